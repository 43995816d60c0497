package ai.crate.model.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The standard image sets by name, from the folders they are usually unpacked into: Fashion-MNIST and MNIST as IDX
 * files (gzipped or not), CIFAR-10 and CIFAR-100 in their binary versions. A missing file is reported with the files
 * expected, the folder searched and how to get them.
 */
public final class Datasets {
    /** The names {@link #load} knows. */
    public static final List<String> NAMES = List.of("fashion-mnist", "mnist", "cifar10", "cifar100");
    /** Cluttered translated Fashion-MNIST ({@link ClutteredScenes}), made from the Fashion-MNIST files. */
    public static final String CLUTTERED_FASHION_MNIST = "cluttered-fashion-mnist";

    /** Where Debian's package {@code dataset-fashion-mnist} installs the four gzipped IDX files. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

    private static final List<String> FASHION_MNIST_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress",
            "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
    private static final List<String> DIGITS = IntStream.range(0, 10).mapToObj(Integer::toString).toList();
    private static final List<String> CIFAR10_CLASSES = List.of("airplane", "automobile", "bird", "cat", "deer",
            "dog", "frog", "horse", "ship", "truck");
    // The fine label names of cifar-100-binary/fine_label_names.txt, in label order (alphabetical).
    private static final List<String> CIFAR100_CLASSES = List.of("apple", "aquarium_fish", "baby", "bear", "beaver",
            "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can",
            "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab",
            "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
            "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
            "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter",
            "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
            "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
            "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table",
            "tank", "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe",
            "whale", "willow_tree", "wolf", "woman", "worm");

    private static final List<String> IDX_FILES = List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    private static final String IDX_HOW = "a folder with the four IDX files " + String.join(", ", IDX_FILES)
            + " (each may be gzipped, ending in .gz)";

    private Datasets() {}

    /**
     * The training or test split of data set {@code name} (one of {@link #NAMES}) from {@code dir}; null means the
     * default folder, which only Fashion-MNIST has ({@link #DEBIAN_FASHION_MNIST}).
     */
    public static ImageDataset load(String name, Path dir, boolean train) throws DatasetException {
        return switch (name) {
            case "fashion-mnist" -> fashionMnist(dir, train);
            case "mnist" -> mnist(dir, train);
            case "cifar10" -> cifar10(dir, train);
            case "cifar100" -> cifar100(dir, train);
            default -> throw unknown(name);
        };
    }

    /** Fashion-MNIST from {@code dir}, or from {@link #DEBIAN_FASHION_MNIST} when dir is null. */
    public static ImageDataset fashionMnist(Path dir, boolean train) throws DatasetException {
        Path folder = dir != null ? dir : DEBIAN_FASHION_MNIST;
        return idx(folder, train, "fashion-mnist", "Fashion-MNIST", FASHION_MNIST_CLASSES,
                "Get it with `apt-get install dataset-fashion-mnist` (Debian; it installs to " + DEBIAN_FASHION_MNIST
                        + "), or pass --data DIR for " + IDX_HOW + ".");
    }

    /** MNIST from {@code dir}, which must be given. */
    public static ImageDataset mnist(Path dir, boolean train) throws DatasetException {
        String how = "Pass --data DIR for " + IDX_HOW + ".";
        return idx(requireDir(dir, "MNIST", how), train, "mnist", "MNIST", DIGITS, how);
    }

    /** CIFAR-10's binary version from {@code dir} or {@code dir/cifar-10-batches-bin}. */
    public static ImageDataset cifar10(Path dir, boolean train) throws DatasetException {
        List<String> files = train
                ? List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                        "data_batch_5.bin")
                : List.of("test_batch.bin");
        String how = "Get the CIFAR-10 binary version (cifar-10-binary.tar.gz), unpack it, and pass --data DIR for "
                + "the folder holding cifar-10-batches-bin or its files data_batch_1.bin..data_batch_5.bin and "
                + "test_batch.bin.";
        Path folder = cifarFolder(requireDir(dir, "CIFAR-10", how), "cifar-10-batches-bin", files, "CIFAR-10", train,
                how);
        return Cifar.read(files.stream().map(folder::resolve).toList(), 1, "cifar10/" + split(train),
                CIFAR10_CLASSES);
    }

    /** CIFAR-100's binary version from {@code dir} or {@code dir/cifar-100-binary}, with its 100 fine labels. */
    public static ImageDataset cifar100(Path dir, boolean train) throws DatasetException {
        List<String> files = List.of(train ? "train.bin" : "test.bin");
        String how = "Get the CIFAR-100 binary version (cifar-100-binary.tar.gz), unpack it, and pass --data DIR for "
                + "the folder holding cifar-100-binary or its files train.bin and test.bin.";
        Path folder = cifarFolder(requireDir(dir, "CIFAR-100", how), "cifar-100-binary", files, "CIFAR-100", train,
                how);
        return Cifar.read(List.of(folder.resolve(files.getFirst())), 2, "cifar100/" + split(train),
                CIFAR100_CLASSES);
    }

    /** The class names of data set {@code name}, in label order. */
    public static List<String> classNames(String name) {
        return switch (name) {
            case "fashion-mnist" -> FASHION_MNIST_CLASSES;
            case "mnist" -> DIGITS;
            case "cifar10" -> CIFAR10_CLASSES;
            case "cifar100" -> CIFAR100_CLASSES;
            default -> throw unknown(name);
        };
    }

    /**
     * The usual per-channel mean and std of data set {@code name}'s training images, for pixels scaled to [0, 1].
     */
    public static Normalization defaultNormalization(String name) {
        return switch (name) {
            case "fashion-mnist" -> new Normalization(new float[] {0.2860f}, new float[] {0.3530f});
            // ClutteredScenes.statistics over the 60,000 training scenes of seed 0 (seed 1: 0.0978, 0.2489)
            case CLUTTERED_FASHION_MNIST -> new Normalization(new float[] {0.0979f}, new float[] {0.2489f});
            case "mnist" -> new Normalization(new float[] {0.1307f}, new float[] {0.3081f});
            case "cifar10" -> new Normalization(new float[] {0.4914f, 0.4822f, 0.4465f},
                    new float[] {0.2470f, 0.2435f, 0.2616f});
            case "cifar100" -> new Normalization(new float[] {0.5071f, 0.4865f, 0.4409f},
                    new float[] {0.2673f, 0.2564f, 0.2762f});
            default -> throw unknown(name);
        };
    }

    private static IllegalArgumentException unknown(String name) {
        return new IllegalArgumentException("unknown data set '" + name + "'; known: " + String.join(", ", NAMES));
    }

    private static String split(boolean train) { return train ? "train" : "test"; }

    private static Path requireDir(Path dir, String title, String how) throws DatasetException {
        if (dir == null) throw new DatasetException(null, title + " has no default folder. " + how, null);
        return dir;
    }

    private static ImageDataset idx(Path folder, boolean train, String name, String title, List<String> classes,
            String how) throws DatasetException {
        String prefix = train ? "train" : "t10k";
        Path images = findIdx(folder, prefix + "-images-idx3-ubyte");
        Path labels = findIdx(folder, prefix + "-labels-idx1-ubyte");
        if (images == null || labels == null) {
            List<String> missing = new ArrayList<>();
            if (images == null) missing.add(prefix + "-images-idx3-ubyte");
            if (labels == null) missing.add(prefix + "-labels-idx1-ubyte");
            throw new DatasetException(folder, title + " " + (train ? "training" : "test") + " data not found: "
                    + (Files.isDirectory(folder) ? "" : "folder " + folder + " does not exist; ")
                    + "expected " + String.join(" and ", missing) + " (or the same with .gz) in " + folder + ". "
                    + how, null);
        }
        return Idx.read(images, labels, name + "/" + split(train), classes.size(), classes);
    }

    /** {@code folder/base}, else {@code folder/base.gz}, else null. */
    private static Path findIdx(Path folder, String base) {
        for (String name : List.of(base, base + ".gz")) {
            Path p = folder.resolve(name);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    /** {@code dir} if it holds every file, else {@code dir/subfolder} if that does; otherwise says what is missing. */
    private static Path cifarFolder(Path dir, String subfolder, List<String> files, String title, boolean train,
            String how) throws DatasetException {
        List<String> missingInDir = missing(dir, files);
        if (missingInDir.isEmpty()) return dir;
        Path sub = dir.resolve(subfolder);
        List<String> missingInSub = missing(sub, files);
        if (missingInSub.isEmpty()) return sub;
        // Report the folder that has some of the files, if one does: that is the one the user meant.
        boolean subHasSome = missingInSub.size() < files.size() && missingInDir.size() == files.size();
        Path where = subHasSome ? sub : dir;
        List<String> missing = subHasSome ? missingInSub : missingInDir;
        String searched = missing.size() == files.size() ? " in " + dir + " or " + sub : " in " + where;
        throw new DatasetException(where, title + " " + (train ? "training" : "test") + " data not found: "
                + (Files.isDirectory(dir) ? "" : "folder " + dir + " does not exist; ")
                + "expected " + String.join(", ", missing) + searched + ". " + how, null);
    }

    private static List<String> missing(Path folder, List<String> files) {
        return files.stream().filter(f -> !Files.isRegularFile(folder.resolve(f))).toList();
    }
}
