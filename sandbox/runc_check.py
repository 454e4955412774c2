"""Is the engine's runc patched against CVE-2024-21626 ("Leaky Vessels", fd leak -> host escape)?

Why not only semver: distributions backport the fix. Upstream fixed it in 1.1.12, but Debian ships
1.1.5+ds1-1+deb12u1 (bookworm) and 1.0.0~rc93+ds1-5+deb11u3 (bullseye) with the fix (DSA-5615), so
a Debian package version is compared with Debian's own ordering.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

UPSTREAM_FIXED = (1, 1, 12)
DEBIAN_FIXED = {"deb12u": "1.1.5+ds1-1+deb12u1", "deb11u": "1.0.0~rc93+ds1-5+deb11u3"}


@dataclass(frozen=True)
class RuncCheck:
    version: str  # what the engine reports (package version when available)
    patched: bool | None  # None: could not tell
    reason: str


def _debian_ge(a: str, b: str) -> bool | None:
    """dpkg's own version ordering (dpkg is present on every Debian engine host)."""
    if not shutil.which("dpkg"):
        return None
    return subprocess.run(["dpkg", "--compare-versions", a, "ge", b], check=False).returncode == 0


def _upstream_tuple(version: str) -> tuple[int, ...] | None:
    m = re.match(r"v?(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(x) for x in m.groups()) if m else None


def assess_runc(version: str, package_version: str = "") -> RuncCheck:
    """Judge a runc version string (engine's) and, if known, its distribution package version."""
    for candidate in (package_version, version):
        for marker, fixed in DEBIAN_FIXED.items():
            if candidate and marker in candidate:
                ok = _debian_ge(candidate, fixed)
                if ok is not None:
                    return RuncCheck(candidate, ok, f"Debian package {candidate} {'>=' if ok else '<'} {fixed}")
    upstream = _upstream_tuple(version)
    if upstream is None:
        return RuncCheck(version, None, f"unrecognised runc version {version!r}")
    ok = upstream >= UPSTREAM_FIXED
    if ok:
        return RuncCheck(version, True, f"runc {version} >= 1.1.12")
    return RuncCheck(version, False, f"runc {version} < 1.1.12 and no known distribution backport")


def check_engine_runc(client) -> RuncCheck:
    """Ask the engine which runc it uses; warn when it is (or may be) vulnerable."""
    try:
        components = client.version().get("Components") or []
    except Exception as exc:
        result = RuncCheck("?", None, f"engine version query failed: {exc}")
    else:
        runc = next((c for c in components if c.get("Name") == "runc"), None)
        if runc is None:
            result = RuncCheck("?", None, "engine does not report its runc")
        else:
            result = assess_runc(runc.get("Version", ""), (runc.get("Details") or {}).get("GitCommit", ""))
    if result.patched is False:
        log.warning("Docker engine runc is VULNERABLE to CVE-2024-21626 (%s): upgrade runc", result.reason)
    elif result.patched is None:
        log.warning("could not confirm runc is patched against CVE-2024-21626 (%s)", result.reason)
    else:
        log.debug("runc patched against CVE-2024-21626: %s", result.reason)
    return result
