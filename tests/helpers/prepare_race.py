"""A child process that prepares a dataset and reports how many cache builds it ran itself."""

from __future__ import annotations


def prepare_and_count(barrier, results, data_cfg: dict, tok_cfg: dict, cache_dir: str) -> None:
    import seqlab.data.prepare as prepare_module

    builds = []
    build = prepare_module._build

    def counted(*args):
        builds.append(1)
        return build(*args)

    prepare_module._build = counted
    barrier.wait()  # both processes look the entry up at the same moment
    entry, _ = prepare_module.prepare(data_cfg, tok_cfg, "/", cache_dir)
    results.put((len(builds), str(entry.path)))
