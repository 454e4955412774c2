"""Pure helpers: apt source parsing (image mirror), runc CVE assessment, backend selection."""
from __future__ import annotations

import pytest

from sandbox import make_sandbox
from sandbox.image import find_mirror, parse_deb822_sources, parse_one_line_sources
from sandbox.runc_check import assess_runc

DEB822 = """\
Types: deb deb-src
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
"""


def test_parse_deb822():
    sources = parse_deb822_sources(DEB822, "x.sources")
    assert [(s.uri, s.suites) for s in sources] == [
        ("http://mirror.example/debian", ("bookworm", "bookworm-updates")),
        ("http://security.example/debian-security", ("bookworm-security",)),
    ]


def test_parse_one_line():
    text = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb-src http://s/ bookworm main\n"
    [src] = parse_one_line_sources(text, "sources.list")
    assert (src.uri, src.suites, src.components) == ("http://m.example/debian", ("bookworm",), ("main",))


def test_find_mirror_reads_the_machines_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text("deb http://nope/ bookworm main\n")
    assert find_mirror("bookworm", root=str(tmp_path)) == "http://mirror.example/debian"
    with pytest.raises(ValueError, match="no apt source"):
        find_mirror("trixie", root=str(tmp_path))


@pytest.mark.parametrize("version, package, patched", [
    ("1.1.5+ds1", "1.1.5+ds1-1+deb12u1", True),  # Debian bookworm backport (DSA-5615)
    ("1.1.5+ds1", "1.1.5+ds1-1+deb12u2", True),
    ("1.1.5+ds1", "1.1.5+ds1-1", False),
    ("1.0.0~rc93+ds1", "1.0.0~rc93+ds1-5+deb11u3", True),
    ("1.0.0~rc93+ds1", "1.0.0~rc93+ds1-5+deb11u2", False),
    ("1.1.12", "", True),
    ("v1.2.0", "", True),
    ("1.1.11", "", False),
])
def test_runc_assessment(version, package, patched):
    assert assess_runc(version, package).patched is patched


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        make_sandbox("podman")
