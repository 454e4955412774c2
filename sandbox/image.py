"""Build the sandbox image without any registry: debootstrap a Debian rootfs, then `docker import`.

Why this way: no registry is reachable, but a Debian mirror is (the machine's own apt sources). The
worker is not baked in: it is passed to `python3 -c` when a container starts, so the image is only
"Debian + python3" and the worker can change without a rebuild.

Caching and tags: the build inputs (suite, variant, packages, mirror, this recipe's version) hash to a
recipe key, stored as a label; if an image with that label exists, nothing is built. A fresh build is
tagged with a *content* hash: the sha256 of the exact installed package manifest (name=version of
every package, from dpkg inside the rootfs), so two images with the same tag hold the same software.
`cfcode-sandbox:latest` always points at the newest build, and is what DockerSandbox uses by default.
"""
from __future__ import annotations

import glob
import hashlib
import json
import re
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

REPOSITORY = "cfcode-sandbox"
DEFAULT_IMAGE = f"{REPOSITORY}:latest"
RECIPE_VERSION = 1
LABEL_RECIPE = "org.cfcode.sandbox.recipe"
LABEL_MANIFEST = "org.cfcode.sandbox.manifest-sha256"
LABEL_PYTHON = "org.cfcode.sandbox.python"


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    origin: str  # file it came from


@dataclass(frozen=True)
class ImageRecipe:
    """Everything that decides what goes into the rootfs."""

    suite: str = "bookworm"
    variant: str = "minbase"
    include: tuple[str, ...] = ("python3",)
    mirror: str = ""
    recipe_version: int = RECIPE_VERSION
    cleanup: tuple[str, ...] = field(default=("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*",
                                              "var/log/*", "usr/share/doc/*", "usr/share/man/*",
                                              "usr/share/locale/*"))

    def __post_init__(self) -> None:
        # both reach debootstrap's argv as root: refuse anything but a Debian codename and a mirror URI
        if not re.fullmatch(r"[a-z][a-z0-9.-]{0,63}", self.suite):
            raise ValueError(f"--suite: expected a Debian suite name such as 'bookworm', got {self.suite!r}")
        if self.mirror and not re.fullmatch(r"(https?|file)://[^\s]+", self.mirror):
            raise ValueError(f"--mirror: expected an http://, https:// or file:// URI, got {self.mirror!r}")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


class ImageBuildError(RuntimeError):
    """The build itself failed (debootstrap, chroot, docker import): the machine's trouble, said in one line."""


# ------------------------------------------------------------------ apt sources

def parse_one_line_sources(text: str, origin: str) -> list[AptSource]:
    """`deb [options] URI suite component...` lines (sources.list format)."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        parts = line.split()[1:]
        if parts and parts[0].startswith("["):
            while parts and not parts[0].endswith("]"):
                parts.pop(0)
            parts = parts[1:]
        if len(parts) >= 2:
            out.append(AptSource(parts[0], (parts[1],), tuple(parts[2:]), origin))
    return out


def parse_deb822_sources(text: str, origin: str) -> list[AptSource]:
    """deb822 stanzas (`*.sources`): Types/URIs/Suites/Components, blank-line separated."""
    out = []
    stanzas = [s for s in "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")).split("\n\n")]
    for stanza in stanzas:
        fields: dict[str, str] = {}
        current = None
        for line in stanza.splitlines():
            if not line.strip():
                continue
            if line[0] in " \t" and current:
                fields[current] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            current = key.strip().lower()
            fields[current] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            out.append(AptSource(uri, tuple(fields.get("suites", "").split()),
                                 tuple(fields.get("components", "").split()), origin))
    return out


def read_apt_sources(root: str = "/etc/apt") -> list[AptSource]:
    sources: list[AptSource] = []
    main = Path(root, "sources.list")
    if main.exists():
        sources += parse_one_line_sources(main.read_text(), str(main))
    for path in sorted(glob.glob(os.path.join(root, "sources.list.d", "*.list"))):
        sources += parse_one_line_sources(Path(path).read_text(), path)
    for path in sorted(glob.glob(os.path.join(root, "sources.list.d", "*.sources"))):
        sources += parse_deb822_sources(Path(path).read_text(), path)
    return sources


def find_mirror(suite: str = "bookworm", root: str = "/etc/apt") -> str:
    """The machine's Debian mirror for `suite` (the main archive, not -security/-updates)."""
    sources = read_apt_sources(root)
    for src in sources:
        if suite in src.suites and "main" in src.components and src.uri.startswith(("http://", "https://")):
            return src.uri.rstrip("/")
    raise ValueError(f"no apt source for Debian {suite!r} with component 'main' in {root}/sources.list or "
                       f"{root}/sources.list.d/ (found: {[s.uri for s in sources]}); pass --mirror")


# ------------------------------------------------------------------ build

def _root_prefix() -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]
    raise ImageBuildError("debootstrap needs root: run as root or with passwordless sudo")


def find_cached_image(client, recipe: ImageRecipe):
    images = client.images.list(filters={"label": f"{LABEL_RECIPE}={recipe.key()}"})
    return images[0] if images else None


def package_manifest(rootfs: str) -> str:
    out = subprocess.run(["chroot", rootfs, "dpkg-query", "-W", "-f", "${Package}=${Version}\\n"],
                         check=True, capture_output=True, text=True).stdout
    return "\n".join(sorted(out.split())) + "\n"


def python_version_in(rootfs: str) -> str:
    return subprocess.run(["chroot", rootfs, "python3", "-c", "import platform;print(platform.python_version())"],
                          check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class BuildResult:
    tag: str
    image_id: str
    cached: bool
    python_version: str
    recipe_key: str


def build_image(recipe: ImageRecipe | None = None, force: bool = False, workdir: str | None = None,
                client=None) -> BuildResult:
    """Build (or find cached) the sandbox image; tag it `cfcode-sandbox:<content hash>` and `:latest`."""
    import docker

    client = client or docker.from_env(timeout=600)
    recipe = recipe or ImageRecipe()
    if not recipe.mirror:
        recipe = ImageRecipe(**{**asdict(recipe), "include": tuple(recipe.include), "cleanup": tuple(recipe.cleanup),
                                "mirror": find_mirror(recipe.suite)})
    key = recipe.key()
    cached = None if force else find_cached_image(client, recipe)
    if cached is not None:
        tag = next((t for t in cached.tags if t != DEFAULT_IMAGE), cached.tags[0] if cached.tags else cached.id)
        cached.tag(REPOSITORY, "latest")
        log.info("sandbox image %s is up to date (recipe %s)", tag, key[:12])
        return BuildResult(tag, cached.id, True, cached.labels.get(LABEL_PYTHON, "?"), key)
    for tool in ("debootstrap", "chroot", "tar"):
        if not shutil.which(tool) and not Path("/usr/sbin", tool).exists():
            raise ImageBuildError(f"{tool} not found: install it (apt-get install debootstrap)")
    prefix = _root_prefix()
    tmp = tempfile.mkdtemp(prefix="cfcode-rootfs-", dir=workdir or "/var/tmp")
    rootfs = os.path.join(tmp, "rootfs")
    try:
        cmd = prefix + ["debootstrap", f"--variant={recipe.variant}", f"--include={','.join(recipe.include)}",
                        recipe.suite, rootfs, recipe.mirror]
        log.info("running %s", " ".join(cmd))
        done = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if done.returncode != 0:
            raise ImageBuildError(f"debootstrap of {recipe.suite!r} from {recipe.mirror} failed (exit "
                                  f"{done.returncode}); its log is above")
        manifest = package_manifest(rootfs)
        python = python_version_in(rootfs)
        for pattern in recipe.cleanup:
            for path in glob.glob(os.path.join(rootfs, pattern)):
                subprocess.run(prefix + ["rm", "-rf", path], check=True)
        digest = hashlib.sha256(manifest.encode()).hexdigest()
        tag = f"{REPOSITORY}:{digest[:16]}"
        changes = [f"LABEL {LABEL_RECIPE}={key}", f"LABEL {LABEL_MANIFEST}={digest}", f"LABEL {LABEL_PYTHON}={python}",
                   "ENV LANG=C.UTF-8", "USER 65534:65534", "WORKDIR /tmp", 'CMD ["python3"]']
        tar = subprocess.Popen(prefix + ["tar", "--numeric-owner", "--sort=name", "-C", rootfs, "-c", "."],
                               stdout=subprocess.PIPE)
        imp_cmd = ["docker", "import"] + [a for c in changes for a in ("--change", c)] + ["-", tag]
        imported = subprocess.run(imp_cmd, stdin=tar.stdout, capture_output=True, text=True, check=False)
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise ImageBuildError(f"docker import failed: {imported.stderr.strip()}")
        image = client.images.get(tag)
        image.tag(REPOSITORY, "latest")
        log.info("built %s (python %s, %d packages)", tag, python, manifest.count("\n"))
        return BuildResult(tag, image.id, False, python, key)
    finally:
        subprocess.run(prefix + ["rm", "-rf", tmp], check=False)


def build_from_dockerfile(client=None) -> BuildResult:
    """`docker build` of sandbox/docker/Dockerfile (needs a registry for the debian base image).

    Tagged like the debootstrap build: the content hash of its package manifest, and `:latest`.
    """
    import docker

    client = client or docker.from_env(timeout=600)
    context = Path(__file__).with_name("docker")
    image, _ = client.images.build(path=str(context), rm=True, pull=False)
    manifest = client.containers.run(image.id, ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n"],
                                     remove=True, network_mode="none").decode()
    python = client.containers.run(image.id, ["python3", "-c", "import platform;print(platform.python_version())"],
                                   remove=True, network_mode="none").decode().strip()
    digest = hashlib.sha256(("\n".join(sorted(manifest.split())) + "\n").encode()).hexdigest()
    tag = f"{REPOSITORY}:{digest[:16]}"
    image.tag(REPOSITORY, digest[:16])
    image.tag(REPOSITORY, "latest")
    return BuildResult(tag, image.id, False, python, "dockerfile")
