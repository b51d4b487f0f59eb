"""`cnnlab lesson`: the CLI entry, for either edition of the lesson."""

from __future__ import annotations

import sys
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.lesson import run


def main(args) -> int:
    """The CLI entry: `cnnlab lesson ...`.

    Every argument is checked before the disk is touched; `--overwrite` replaces only a folder
    an earlier `cnnlab lesson` wrote, and deletes the old one only once the new page is written.
    """
    from cnnlab.files import check_replaceable, folder_kind, replace_owned_folder

    out = Path(args.out)
    threads = getattr(args, "threads", None)
    run.lesson_settings(epochs=args.epochs, quick=args.quick, seed=args.seed, threads=threads)
    edition = getattr(args, "edition", "cifar")
    if edition == "dollar-street" and args.dataset and len(args.dataset) > 1:
        raise CnnlabError("--edition dollar-street trains on one dataset: give --dataset one folder, e.g. "
                          "--dataset data/dataset_dollarstreet")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        if folder_kind(out) == "lesson":
            raise CnnlabError(f"{out} already holds a lesson; give --out another folder or --overwrite")
        raise CnnlabError(f"{out} already holds files cnnlab did not write; give --out a new folder")
    check_replaceable(out, "lesson")
    with replace_owned_folder(out, "lesson"):
        if edition == "dollar-street":
            from cnnlab.lesson.editions import DOLLAR_STREET, run_dollar_street

            run_dollar_street((args.dataset or [DOLLAR_STREET])[0], epochs=args.epochs, quick=args.quick,
                              out=out, seed=args.seed, quiet=args.quiet, threads=threads,
                              say=lambda text: print(text, flush=True))
        else:
            run.run_lesson(args.dataset or ["fashion_mnist"], epochs=args.epochs, quick=args.quick, out=out,
                       seed=args.seed, quiet=args.quiet, threads=threads, say=lambda text: print(text, flush=True))
    sys.stdout.flush()
    return 0
