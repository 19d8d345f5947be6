"""Tests for seqlab.data.sources: local lookup, atomic download, checksums, offline errors."""

import functools
import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from seqlab.data.sources import file_sha256, resolve_file
from seqlab.errors import SeqlabError

PAYLOAD = "line one\nzweite Zeile — ü\n".encode() * 50
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that counts requests and keeps test output quiet."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self.hits.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """Serve a plain and a gzipped file from a temp folder on 127.0.0.1 (random port)."""
    root = tmp_path_factory.mktemp("www")
    (root / "data.txt").write_bytes(PAYLOAD)
    (root / "data.txt.gz").write_bytes(gzip.compress(PAYLOAD))
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(PAYLOAD)
    assert file_sha256(path) == PAYLOAD_SHA


def test_download_lands_atomically_with_checksum(server, tmp_path: Path) -> None:
    base, _ = server
    out = resolve_file(tmp_path, "sub/dir/data.txt", url=f"{base}/data.txt", sha256=PAYLOAD_SHA)
    assert out == tmp_path / "sub/dir/data.txt"
    assert out.read_bytes() == PAYLOAD
    assert sorted(p.name for p in out.parent.iterdir()) == ["data.txt"]  # no temp file left


def test_gzip_download_is_decompressed_and_verified(server, tmp_path: Path) -> None:
    base, _ = server
    out = resolve_file(
        tmp_path, "data.txt", url=f"{base}/data.txt.gz", sha256=PAYLOAD_SHA, decompress="gzip"
    )
    assert out.read_bytes() == PAYLOAD


def test_wrong_checksum_raises_and_leaves_nothing(server, tmp_path: Path) -> None:
    base, _ = server
    url = f"{base}/data.txt"
    with pytest.raises(SeqlabError) as err:
        resolve_file(tmp_path, "sub/data.txt", url=url, sha256="0" * 64)
    msg = str(err.value)
    assert url in msg and "0" * 64 in msg and PAYLOAD_SHA in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []


def test_missing_without_url_names_path(tmp_path: Path) -> None:
    with pytest.raises(SeqlabError) as err:
        resolve_file(tmp_path, "multi30k/train.en")
    msg = str(err.value)
    assert str((tmp_path / "multi30k/train.en").absolute()) in msg
    assert "paths.data_dir" in msg and "\n" not in msg


def test_unreachable_url_names_path_and_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/data.txt"
    with pytest.raises(SeqlabError) as err:
        resolve_file(tmp_path, "new/dir/data.txt", url=url, timeout=5)
    msg = str(err.value)
    assert str(tmp_path / "new/dir/data.txt") in msg and url in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []  # no file and no empty folders left behind


def test_http_404_is_reported_as_not_found(server, tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(SeqlabError, match="data file not found"):
        resolve_file(tmp_path, "data.txt", url=f"{base}/missing.txt")
    assert not (tmp_path / "data.txt").exists()


def test_existing_file_is_not_downloaded_again(server, tmp_path: Path) -> None:
    base, hits = server
    (tmp_path / "data.txt").write_bytes(b"local copy\n")
    before = len(hits)
    out = resolve_file(tmp_path, "data.txt", url=f"{base}/data.txt", sha256=PAYLOAD_SHA)
    assert out.read_bytes() == b"local copy\n"  # checksum not checked without verify=True
    assert len(hits) == before


def test_verify_existing_file_checks_sha(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_bytes(PAYLOAD)
    assert resolve_file(tmp_path, "data.txt", sha256=PAYLOAD_SHA, verify=True).is_file()
    with pytest.raises(SeqlabError, match="checksum mismatch"):
        resolve_file(tmp_path, "data.txt", sha256="f" * 64, verify=True)


def test_unknown_decompress_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SeqlabError, match="decompress"):
        resolve_file(tmp_path, "x.txt", url="http://127.0.0.1:9/x", decompress="zip")
