"""Read what a run sent to its dashboards with the dashboards' own formats and parsers."""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32768  # W&B's transaction log uses LevelDB's log format: records never cross a block
HEADER = 7  # ":W&B", a 2-byte magic and a version byte
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> list:
    """Every record of an offline W&B run file (``run-<id>.wandb``), as wandb's protobufs."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pos, parts = [], HEADER, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left  # block trailer: padding
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        parts += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(parts)
            records.append(record)
            parts = b""
    return records


def wandb_run(run_folder: Path) -> dict:
    """The W&B run a seqlab run wrote offline: id, group, job type, tags, config and summary."""
    [path] = (run_folder / "wandb").glob("offline-run-*/run-*.wandb")
    out: dict = {"config": {}, "summary": {}}
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out.update(
                id=run.run_id, group=run.run_group, job_type=run.job_type, tags=list(run.tags)
            )
            for item in run.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in record.summary.update:
                out["summary"][item.key] = json.loads(item.value_json)
    return out


def tensorboard_hparams(log_dir: Path) -> tuple[dict, list[str], dict]:
    """TensorBoard's HPARAMS view of a run: hyperparameters, the metric columns, and the last
    value of each metric column, read with TensorBoard's own event reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(log_dir))
    events.Reload()
    hparams, columns = {}, []
    for raw in events.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(raw)
        if data.HasField("session_start_info"):
            for key, value in data.session_start_info.hparams.items():
                hparams[key] = getattr(value, value.WhichOneof("kind"))
        if data.HasField("experiment"):
            columns = [m.name.tag for m in data.experiment.metric_infos]
    scalars = set(events.Tags()["scalars"])
    last = {c: events.Scalars(c)[-1].value for c in columns if c in scalars}
    return hparams, columns, last
