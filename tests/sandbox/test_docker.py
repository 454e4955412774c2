"""Docker backend specifics: hardening of pool containers, no leaked containers, the image, runc."""
from __future__ import annotations

import os
import socket

import docker
import pytest

from sandbox import ExecRequest, make_sandbox
from sandbox.docker_sandbox import LABEL, POOL_LABEL, DockerSandbox
from sandbox.image import DEFAULT_IMAGE, LABEL_MANIFEST, LABEL_PYTHON, REPOSITORY, build_image

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    return docker.from_env()  # fails (does not skip) when no engine answers


def test_auto_prefers_docker_when_an_engine_answers():
    with make_sandbox("auto", size=1) as sb:
        assert sb.backend == "docker"


@pytest.mark.parametrize("transport", ["socket", "attach"])
def test_pool_containers_are_hardened(client, transport):
    with DockerSandbox(size=1, transport=transport) as sb:
        assert sb.run(ExecRequest("def f():\n    return 1\n", "f", [()]))[0].value == 1
        [cid] = sb.container_ids
        attrs = client.api.inspect_container(cid)
        host, cfg = attrs["HostConfig"], attrs["Config"]
        assert host["NetworkMode"] == "none" and cfg.get("NetworkDisabled") is True
        assert host["ReadonlyRootfs"] is True
        assert host["Privileged"] is False
        assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["PidsLimit"] == sb.limits.container_pids
        assert host["Memory"] == host["MemorySwap"] == sb.limits.container_memory_mb << 20
        assert host["NanoCpus"] == int(sb.limits.container_cpus * 1e9)
        assert "/tmp" in host["Tmpfs"] and f"size={sb.limits.tmpfs_mb}m" in host["Tmpfs"]["/tmp"]
        uid = int(cfg["User"].split(":")[0])
        assert uid >= 1000
        assert cfg["Labels"][LABEL] == sb.owner and cfg["Labels"][POOL_LABEL] == sb.pool_id
        who = sb.run(ExecRequest("import os\ndef f():\n    return [os.getuid(), os.getpid() > 1]\n", "f", [()]))
        assert who[0].value == [uid, True]


def test_close_leaves_no_containers(client):
    sb = DockerSandbox(size=2)
    pool_filter = {"label": f"{POOL_LABEL}={sb.pool_id}"}
    assert len(client.containers.list(all=True, filters=pool_filter)) == 2
    sb.close()
    assert client.containers.list(all=True, filters=pool_filter) == []


def test_containers_of_a_dead_owner_are_removed_at_next_start(client):
    image = client.images.get(DEFAULT_IMAGE)
    leaked = client.containers.run(image.id, ["python3", "-c", "import time; time.sleep(300)"], detach=True,
                                   network_mode="none", labels={LABEL: f"{socket.gethostname()}:999999999:0"})  # dead pid
    try:
        with DockerSandbox(size=1):
            remaining = [c.id for c in client.containers.list(all=True, filters={"label": LABEL})]
            assert leaked.id not in remaining
    finally:
        try:
            leaked.remove(force=True)
        except docker.errors.NotFound:
            pass


def test_image_is_cached_and_content_tagged(client):
    result = build_image()  # the image exists (setup built it): this must be the cached path
    assert result.cached
    image = client.images.get(result.tag)
    assert result.tag.startswith(f"{REPOSITORY}:") and result.tag.split(":")[1] == image.labels[LABEL_MANIFEST][:16]
    assert client.images.get(DEFAULT_IMAGE).id == image.id
    assert image.labels[LABEL_PYTHON] == result.python_version
    with DockerSandbox(size=1) as sb:
        assert sb.python_version == result.python_version


def test_engine_runc_is_checked(client):
    with DockerSandbox(size=1) as sb:
        assert sb.runc.version != "?"
        assert sb.runc.patched is True, sb.runc.reason  # this engine's runc carries the fix


@pytest.mark.parametrize("transport", ["socket", "attach"])
def test_results_do_not_fill_the_hosts_disk_through_the_engines_log(client, transport):
    """Over the attach stream every frame the worker sends is the container's stdout, which the
    engine's default json-file log driver kept on the host's disk without bound: a warm container
    whose programs return 1 MB values logged a megabyte per call until the disk was full."""
    big = "def f(i):\n    return 'x' * 1000000\n"
    with DockerSandbox(size=1, transport=transport) as sb:
        [results] = sb.run_batch([ExecRequest(big, "f", [(i,) for i in range(8)], timeout_s=30.0)])
        assert [r.status.value for r in results] == ["ok"] * 8, results
        [cid] = sb.container_ids
        log_path = client.api.inspect_container(cid).get("LogPath") or ""
        logged = os.path.getsize(log_path) if log_path and os.path.exists(log_path) else 0
        assert logged < 64 << 10, f"{logged} bytes of results logged to {log_path}"
