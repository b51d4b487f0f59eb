"""`cnnlab datasets list | download | info | show`: the work behind the CLI (no torch)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from cnnlab.datasets import api, builtin, cache, npy_folder, registry
from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.registry import DatasetSpec
from cnnlab.files import atomic_write


def run(args) -> int:
    action = {"list": list_datasets, "download": download, "info": info, "show": show}[args.datasets_command]
    return action(args)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n else "-"


def _shape(meta: api.DatasetMeta) -> str:
    return "x".join(map(str, meta.input_shape))


def _found_sources(spec: DatasetSpec) -> list[Path]:
    """Files present for the first source that is complete here (by name; not verified)."""
    for source in spec.sources:
        dirs = cache.search_dirs(spec, source)
        found = [cache.candidates(f, dirs) for f in source.files]
        if all(found):
            return [paths[0] for paths in found]
    return []


def where(spec: DatasetSpec) -> tuple[str, int]:
    """(location, bytes on disk) for the list and info commands."""
    if spec.manual is not None:
        copy = npy_folder.local_copy(spec)
        if copy is None:
            return f"not on this machine (fetched by hand into {spec.manual.folder}/)", 0
        return str(copy), sum(copy.joinpath(name).stat().st_size for name in spec.manual.files)
    if not spec.sources:
        return "embedded in scikit-learn", 0
    own = cache.disk_usage(cache.dataset_dir(spec.name))
    if cache.decoded_info(spec.name):
        return str(cache.dataset_dir(spec.name)), own
    found = _found_sources(spec)
    if found:
        outside = sum(p.stat().st_size for p in found if not cache.is_ours(p, spec))
        return f"{found[0].parent} (not decoded yet)", own + outside
    return "not downloaded", own


def list_datasets(args) -> int:
    rows = [("name", "shape", "classes", "train/test", "on disk", "where")]
    for name, spec in registry.DATASETS.items():
        meta = api.dataset_meta(name)
        location, size = where(spec)
        rows.append((name, _shape(meta), str(meta.num_classes), f"{meta.train_size}/{meta.test_size or '?'}",
                     _mb(size), location))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    print(f"\ncache: {cache.cache_root()}  (set CNNLAB_HOME to move it)")
    return 0


def _spec_or_error(name: str) -> DatasetSpec:
    spec = registry.lookup(name)
    if spec is None:
        raise DatasetError(f"unknown dataset {name!r}: use one of {', '.join(registry.DATASETS)}")
    return spec


def download(args) -> int:
    specs = [_spec_or_error(n) for n in args.names]  # all names checked before any download
    for spec in specs:
        if spec.manual is not None:
            print(f"{spec.name}: not downloaded by cnnlab; {npy_folder.how_to_fetch(spec)}")
            continue
        if not spec.sources:
            print(f"{spec.name}: embedded in scikit-learn, nothing to download")
            continue
        arrays = builtin.load_arrays(spec, offline=False, progress=True)
        shapes = ", ".join(f"{k} {arrays[k].shape}" for k in ("x_train", "y_train", "x_test", "y_test"))
        print(f"{spec.name}: ready in {cache.dataset_dir(spec.name)} ({shapes})")
    return 0


def _class_counts(y: np.ndarray, names: list[str]) -> str:
    counts = np.bincount(y.reshape(-1), minlength=len(names))
    return ", ".join(f"{n}: {c}" for n, c in zip(names, counts))


def info(args) -> int:
    target = api.resolve(args.name)
    label_mode = getattr(args, "label_mode", "fine")
    meta = api.dataset_meta(args.name, label_mode=label_mode)
    spec = target if isinstance(target, DatasetSpec) else None
    kind = "folder of .npy files" if spec is None and npy_folder.find(target) else "image folder"
    print(f"{meta.name}: {spec.title if spec else f'{kind} {target}'}")
    if spec:
        print(f"  homepage: {spec.homepage}")
    print(f"  input shape (H, W, C): {meta.input_shape}   classes: {meta.num_classes}")
    print(f"  train: {meta.train_size}   test: {meta.test_size or 'unknown until the files are here'}")
    if spec:
        y_shape = "(N, 1)" if spec.label_column else "(N,)"
        x_shape = "(N, H, W)" if meta.input_shape[2] == 1 else "(N, H, W, C)"
        print(f"  arrays: x uint8 {x_shape}, y uint8 {y_shape}")
        for i, source in enumerate(spec.sources, 1):
            mirrors = ", ".join(source.mirrors) or "none (used when found on this machine)"
            print(f"  source {i} ({source.format}), mirrors in order: {mirrors}")
            for f in source.files:
                print(f"    {f.name}  {f'{f.size} bytes' if f.size else 'size not recorded'}")
                for c in f.checksums:
                    print(f"      {c.algo} of {c.of}: {c.digest}  [{c.source}]")
        if spec.manual is not None:
            print(f"  files (fetched by hand from {spec.manual.url}): {', '.join(spec.manual.files)}")
            print(f"  checksums: {spec.manual.checksums}")
        location, size = where(spec)
        print(f"  location: {location}  ({_mb(size)})")
    try:
        (_, y_train), (_, y_test) = api.load_dataset(args.name, offline=True, progress=False, label_mode=label_mode)
    except DatasetError:
        if spec is None:  # an image folder that does not load: its own message, exit 2
            raise
        fix = (npy_folder.how_to_fetch(spec) if spec.manual is not None
               else f"run `cnnlab datasets download {meta.name}`")
        print(f"  class counts: not on this machine yet; {fix}")
        return 0
    print(f"  train classes: {_class_counts(y_train, meta.class_names)}")
    print(f"  test classes:  {_class_counts(y_test, meta.class_names)}")
    return 0


IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def show(args) -> int:
    """A labelled grid of sample images, like the lesson's 5x5 plot."""
    meta = api.dataset_meta(args.name)
    (x_train, y_train), (x_test, y_test) = api.load_dataset(args.name, offline=args.offline or None)
    x, y = (x_train, y_train) if args.split == "train" else (x_test, y_test)
    if args.count < 1:
        raise DatasetError(f"--count {args.count}: show at least 1 image")
    count = min(args.count, len(x))
    pick = np.sort(np.random.default_rng(args.seed).choice(len(x), size=count, replace=False))
    out = Path(args.out or f"{meta.name}_grid.png")
    if out.suffix.lower() not in IMAGE_SUFFIXES:  # matplotlib picks the format by the suffix
        raise DatasetError(f"--out {out}: give a picture file name ending in "
                           f"{', '.join(IMAGE_SUFFIXES)}, e.g. {meta.name}_grid.png")
    save_grid(x[pick], y[pick].reshape(-1), meta.class_names, out, title=f"{meta.name} ({args.split})")
    print(f"wrote {out} ({count} {args.split} images of {meta.name})")
    return 0


def save_grid(images: np.ndarray, labels: np.ndarray, class_names: list[str], out: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(class_names[int(label)], fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=out.suffix.lower().lstrip("."), dpi=100)
    plt.close(fig)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, buffer.getvalue())  # an existing file is replaced whole or not at all
