"""Dataset facts as data: files, mirrors in order, sizes, hashes (with where each came from),
class names and shapes. No I/O here; fetch.py, cache.py, decoders.py and builtin.py act on these specs.

Verification rule (see verify.verify_file): a file is good when ANY of its checksums matches.
A checksum is either of the file as published (`of="file"`) or of its gunzipped content
(`of="content"`), so an honest mirror that re-compressed the same content (Debian's
dataset-fashion-mnist does) passes on the content hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Checksum:
    algo: str  # "md5" or "sha256"
    digest: str  # lowercase hex
    of: str  # "file": the bytes as published; "content": the gunzipped bytes
    source: str  # where this hash was published (or how it was measured)


@dataclass(frozen=True)
class SourceFile:
    name: str  # file name on the mirrors and in the cache
    size: int | None  # bytes as published upstream (a hint for progress; mirrors may differ)
    checksums: tuple[Checksum, ...]
    aliases: tuple[str, ...] = ()  # names other caches give the same bytes (Keras)


@dataclass(frozen=True)
class Source:
    """One complete packaging of a dataset: all of `files`, in `format`, from `mirrors`."""

    format: str  # a key of decoders.DECODERS
    files: tuple[SourceFile, ...]
    mirrors: tuple[str, ...]  # base URLs tried in order; a file's URL is mirror + file name
    discover: tuple[str, ...] = ()  # other folders that may already hold these files


@dataclass(frozen=True)
class ManualFiles:
    """Files learners fetch by hand, as a lesson tells them to (npy_folder.py loads them)."""

    url: str  # base URL; a file's URL is url + name
    files: tuple[str, ...]
    folder: str  # where the lesson puts them, relative to the working folder
    checksums: str  # what is known about their bytes, said by `cnnlab datasets info`


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    homepage: str
    input_shape: tuple[int, int, int]  # (H, W, C) as a model sees one image
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    label_column: bool  # True: y has shape (N, 1) like keras.datasets.cifar10
    sources: tuple[Source, ...] = ()  # tried in order; empty for embedded data
    coarse_class_names: tuple[str, ...] = field(default=())  # CIFAR-100 only
    manual: ManualFiles | None = None  # fetched by hand, never downloaded (Dollar Street 10)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# --- hash sources, cited once ----------------------------------------------------------------
TV_MNIST = "torchvision datasets/mnist.py (md5)"
TV_CIFAR = "torchvision datasets/cifar.py (md5)"
TFDS = "TFDS url_checksums (sha256)"
KERAS = "Keras datasets (sha256, get_file file_hash)"
TORONTO = "CIFAR homepage www.cs.toronto.edu/~kriz/cifar.html (md5)"
# Measured here with `zcat FILE | sha256sum` on Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9-1; Debian re-gzipped the files but the content is upstream's (the
# train-images value is the one quoted in cnnlab issue 3 for the upstream content).
MEASURED_DEBIAN = "zcat | sha256sum of Debian dataset-fashion-mnist (content identical upstream)"


def _md5(digest: str, source: str) -> Checksum:
    return Checksum("md5", digest, "file", source)


def _sha(digest: str, source: str, of: str = "file") -> Checksum:
    return Checksum("sha256", digest, of, source)


# --- MNIST -----------------------------------------------------------------------------------
# No published sha256 of the decompressed MNIST files is known to us: MNIST files are verified
# by the published hashes of the .gz files themselves (torchvision md5 and TFDS sha256, which
# describe the same bytes: the TFDS sizes equal the upstream sizes).
_MNIST_FILES = (
    SourceFile("train-images-idx3-ubyte.gz", 9912422, (
        _md5("f68b3c2dcbeaaa9fbdd348bbdeb94873", TV_MNIST),
        _sha("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", TFDS),
    )),
    SourceFile("train-labels-idx1-ubyte.gz", 28881, (
        _md5("d53e105ee54ea40749a09fcbcd1e9432", TV_MNIST),
        _sha("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", TFDS),
    )),
    SourceFile("t10k-images-idx3-ubyte.gz", 1648877, (
        _md5("9fb629c4189551a2d022fa330f9573f3", TV_MNIST),
        _sha("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", TFDS),
    )),
    SourceFile("t10k-labels-idx1-ubyte.gz", 4542, (
        _md5("ec29112dd5afa0611ce80d1b7f02629c", TV_MNIST),
        _sha("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", TFDS),
    )),
)

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    homepage="http://yann.lecun.com/exdb/mnist/",
    input_shape=(28, 28, 1),
    class_names=tuple(str(d) for d in range(10)),
    train_size=60000,
    test_size=10000,
    label_column=False,
    sources=(
        Source(
            format="idx",
            files=_MNIST_FILES,
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's S3 copy
                "https://storage.googleapis.com/cvdf-datasets/mnist/",  # the TFDS copy
                "http://yann.lecun.com/exdb/mnist/",  # the original host (often 403s)
            ),
            discover=("~/.keras/datasets/mnist",),
        ),
        Source(
            format="keras-npz",
            files=(
                SourceFile("mnist.npz", 11490434, (
                    _sha("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", KERAS),
                )),
            ),
            mirrors=("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",),
            discover=("~/.keras/datasets",),
        ),
    ),
)

# --- Fashion-MNIST ---------------------------------------------------------------------------
_FASHION_FILES = (
    SourceFile("train-images-idx3-ubyte.gz", 26421880, (
        _sha("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", MEASURED_DEBIAN, "content"),
        _md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "torchvision datasets/mnist.py FashionMNIST (md5)"),
        _sha("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", TFDS),
    )),
    SourceFile("train-labels-idx1-ubyte.gz", 29515, (
        _sha("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", MEASURED_DEBIAN, "content"),
        _md5("25c81989df183df01b3e8a0aad5dffbe", "torchvision datasets/mnist.py FashionMNIST (md5)"),
        _sha("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", TFDS),
    )),
    SourceFile("t10k-images-idx3-ubyte.gz", 4422102, (
        _sha("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", MEASURED_DEBIAN, "content"),
        _md5("bef4ecab320f06d8554ea6380940ec79", "torchvision datasets/mnist.py FashionMNIST (md5)"),
        _sha("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", TFDS),
    )),
    SourceFile("t10k-labels-idx1-ubyte.gz", 5148, (
        _sha("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", MEASURED_DEBIAN, "content"),
        _md5("bb300cfdad3c16e7a12a480ee83cd310", "torchvision datasets/mnist.py FashionMNIST (md5)"),
        _sha("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", TFDS),
    )),
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    title="Fashion-MNIST (Zalando article images)",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    input_shape=(28, 28, 1),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    train_size=60000,
    test_size=10000,
    label_column=False,
    sources=(
        Source(
            format="idx",
            files=_FASHION_FILES,
            mirrors=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's S3
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras's copy
            ),
            discover=("/usr/share/datasets/fashion-mnist", "~/.keras/datasets/fashion-mnist"),
        ),
    ),
)

# --- CIFAR-10 --------------------------------------------------------------------------------
_TORONTO = ("https://www.cs.toronto.edu/~kriz/",)

CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10 (32x32 colour images, 10 classes)",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    input_shape=(32, 32, 3),
    class_names=("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"),
    train_size=50000,
    test_size=10000,
    label_column=True,
    sources=(
        # The binary version first: no pickle involved.
        Source(
            format="cifar10-binary",
            files=(
                SourceFile("cifar-10-binary.tar.gz", 170052171, (
                    _md5("c32a1d4ab5d03f1284b67883e8d87530", TORONTO),
                    _sha("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", TFDS),
                )),
            ),
            mirrors=_TORONTO,
        ),
        Source(
            format="cifar10-python",
            files=(
                SourceFile("cifar-10-python.tar.gz", 170498071, (
                    _md5("c58f30108f718f92721af3b95e74349a", TV_CIFAR),
                    _sha("6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", KERAS),
                ), aliases=("cifar-10-batches-py.tar.gz",)),  # Keras 2's name for it
            ),
            mirrors=_TORONTO,
            discover=("~/.keras/datasets",),
        ),
        # Keras's cache may hold only the extracted batches: usable offline, never downloaded.
        Source(
            format="cifar10-python-files",
            files=tuple(SourceFile(f"cifar-10-batches-py/{name}", None, (_md5(md5, TV_CIFAR),)) for name, md5 in (
                ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
                ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
                ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
                ("data_batch_4", "634d18415352ddfa80567beed471001a"),
                ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
                ("test_batch", "40351d587109b95175f43aff81a1287e"),
            )),
            mirrors=(),
            discover=("~/.keras/datasets",),
        ),
    ),
)

# --- CIFAR-100 -------------------------------------------------------------------------------
CIFAR100_FINE = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)
CIFAR100_COARSE = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)

CIFAR100 = DatasetSpec(
    name="cifar100",
    title="CIFAR-100 (32x32 colour images, 100 fine / 20 coarse classes)",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    input_shape=(32, 32, 3),
    class_names=CIFAR100_FINE,
    coarse_class_names=CIFAR100_COARSE,
    train_size=50000,
    test_size=10000,
    label_column=True,
    sources=(
        Source(
            format="cifar100-binary",
            files=(
                SourceFile("cifar-100-binary.tar.gz", 168513733, (
                    _md5("03b5dce01913d631647c71ecec9e9cb8", TORONTO),
                    _sha("58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec", TFDS),
                )),
            ),
            mirrors=_TORONTO,
        ),
        Source(
            format="cifar100-python",
            files=(
                SourceFile("cifar-100-python.tar.gz", 169001437, (
                    _md5("eb9058c3a382ffc7106e4002c42a8d85", TV_CIFAR),
                    _sha("85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7", KERAS),
                )),
            ),
            mirrors=_TORONTO,
            discover=("~/.keras/datasets",),
        ),
        Source(
            format="cifar100-python-files",
            files=(
                SourceFile("cifar-100-python/train", None, (_md5("16019d7e3df5f24257cddd939b257f8d", TV_CIFAR),)),
                SourceFile("cifar-100-python/test", None, (_md5("f0ef6b0ae62326f3e7ffdfab6717acfc", TV_CIFAR),)),
            ),
            mirrors=(),
            discover=("~/.keras/datasets",),
        ),
    ),
)

# --- digits: embedded in scikit-learn, needs no file at all ----------------------------------
DIGITS_TOTAL = 1797  # sklearn.datasets.load_digits()
DIGITS_TEST_FRACTION = 0.2
DIGITS_TEST_SIZE = round(DIGITS_TOTAL * DIGITS_TEST_FRACTION)  # 359

DIGITS = DatasetSpec(
    name="digits",
    title="scikit-learn 8x8 digits (embedded, no download)",
    homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
    input_shape=(8, 8, 1),
    class_names=tuple(str(d) for d in range(10)),
    train_size=DIGITS_TOTAL - DIGITS_TEST_SIZE,
    test_size=DIGITS_TEST_SIZE,
    label_column=False,
)

# --- Dollar Street 10: the lesson's 2024 edition, four .npy files on Zenodo ------------------
# No checksum of these files was found published anywhere we could check, so none is given:
# a copy is checked by its shapes, dtypes, training size and label range only.
DOLLAR_STREET = DatasetSpec(
    name="dollar_street",
    title="Dollar Street 10 (64x64 colour photos of household objects, 10 classes)",
    homepage="https://zenodo.org/records/10970014",
    input_shape=(64, 64, 3),
    class_names=("day bed", "dishrag", "plate", "running shoe", "soap dispenser", "street sign",
                 "table lamp", "tile roof", "toilet seat", "washing machine"),
    train_size=878,  # the lesson's train_images.shape
    test_size=0,  # not stated by the lesson; read from a local copy when there is one
    label_column=False,
    manual=ManualFiles(
        url="https://zenodo.org/records/10970014/files/",
        files=("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"),
        folder="data/dataset_dollarstreet",
        checksums=("no checksum is known for these files (none found published), so cnnlab checks "
                   "their shapes, dtypes, training size and label range only"),
    ),
)

DATASETS: dict[str, DatasetSpec] = {
    s.name: s for s in (MNIST, FASHION_MNIST, CIFAR10, CIFAR100, DIGITS, DOLLAR_STREET)
}
ALIASES = {"fashion-mnist": "fashion_mnist", "fmnist": "fashion_mnist", "cifar-10": "cifar10",
           "cifar-100": "cifar100"}


def lookup(name: str) -> DatasetSpec | None:
    """The spec for a built-in dataset name (case and -/_ insensitive), else None."""
    key = name.strip().lower()
    key = ALIASES.get(key, key).replace("-", "_")
    return DATASETS.get(key)
