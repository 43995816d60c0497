package ai.crate.model.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Images in a folder per class, as torchvision's {@code ImageFolder} reads them: either {@code DIR/train/<class>/…} and
 * {@code DIR/test/<class>/…}, or one tree {@code DIR/<class>/…} split into train and test by a test fraction. Classes
 * are the sub-folder names in sorted order; a class's files are every non-hidden file below its folder (recursively),
 * in sorted path order. In one tree an image's side is a pure function of its path and the split seed (a hash), so
 * adding images moves no other image across the split.
 *
 * <p>This class only lists files; {@link #load} decodes a split into a {@link FolderImages}.
 */
public final class FolderDataset {
    /** The test fraction a one-tree folder is split by unless told. */
    public static final double DEFAULT_TEST_FRACTION = 0.2;

    /** One file: where it is, its path relative to the data folder ('/'-separated), its class. */
    public record Entry(Path file, String relative, int label) {}

    private final Path root;
    private final boolean presplit;
    private final double testFraction;
    private final long splitSeed;
    private final List<String> classes;
    private final List<Entry> train;
    private final List<Entry> test;
    private final List<String> notes;

    private FolderDataset(Path root, boolean presplit, double testFraction, long splitSeed, List<String> classes,
            List<Entry> train, List<Entry> test, List<String> notes) {
        this.root = root;
        this.presplit = presplit;
        this.testFraction = testFraction;
        this.splitSeed = splitSeed;
        this.classes = List.copyOf(classes);
        this.train = List.copyOf(train);
        this.test = List.copyOf(test);
        this.notes = List.copyOf(notes);
    }

    /**
     * Lists {@code root}: {@code root/train} and {@code root/test} when both exist, otherwise {@code root}'s class
     * folders split by {@code testFraction} (in (0, 1)) and {@code splitSeed}.
     *
     * @throws DatasetException naming the folder: missing, no class sub-folders, one class only, an empty class
     *                          folder, train and test with different classes, a class without training images
     */
    public static FolderDataset scan(Path root, double testFraction, long splitSeed) throws DatasetException {
        if (!Files.isDirectory(root)) throw DatasetException.at(root, "no such folder");
        Path trainDir = root.resolve("train"), testDir = root.resolve("test");
        boolean hasTrain = Files.isDirectory(trainDir), hasTest = Files.isDirectory(testDir);
        List<String> notes = new ArrayList<>();
        if (hasTrain && hasTest) {
            List<String> classes = classFolders(trainDir);
            List<String> testClasses = classFolders(testDir);
            if (!classes.equals(testClasses)) {
                throw DatasetException.at(root, "train/ and test/ hold different classes: train " + classes
                        + ", test " + testClasses);
            }
            List<Entry> train = new ArrayList<>(), test = new ArrayList<>();
            for (int k = 0; k < classes.size(); k++) {
                train.addAll(files(root, trainDir.resolve(classes.get(k)), k));
                test.addAll(files(root, testDir.resolve(classes.get(k)), k));
            }
            notLooseFiles(root, notes);
            return new FolderDataset(root, true, Double.NaN, splitSeed, classes, train, test, notes);
        }
        if (hasTrain != hasTest) {
            throw DatasetException.at(root, "has " + (hasTrain ? "train/ but no test/" : "test/ but no train/")
                    + ": give both, or one tree " + root + "/<class>/… split by the test fraction");
        }
        if (!(testFraction > 0 && testFraction < 1)) {
            throw new IllegalArgumentException("--test-fraction must be in (0, 1), got " + testFraction);
        }
        List<String> classes = classFolders(root);
        List<List<Entry>> perClass = new ArrayList<>();   // every folder listed (and checked) before any is split
        for (int k = 0; k < classes.size(); k++) perClass.add(files(root, root.resolve(classes.get(k)), k));
        List<Entry> train = new ArrayList<>(), test = new ArrayList<>();
        for (int k = 0; k < classes.size(); k++) {
            int before = train.size(), testBefore = test.size();
            for (Entry e : perClass.get(k)) {
                (inTest(e.relative(), splitSeed, testFraction) ? test : train).add(e);
            }
            int inTrain = train.size() - before, inTest = test.size() - testBefore;
            if (inTrain == 0) {
                throw DatasetException.at(root.resolve(classes.get(k)), "class '" + classes.get(k) + "' has no "
                        + "training images: the test fraction " + testFraction + " puts all " + inTest + " of them "
                        + "in the test split");
            }
            if (inTest == 0) notes.add("class '" + classes.get(k) + "' has no test images (" + inTrain + " in all)");
        }
        notLooseFiles(root, notes);
        return new FolderDataset(root, false, testFraction, splitSeed, classes, train, test, notes);
    }

    /** Whether the file at {@code relative} ('/'-separated) falls in the test split: SHA-256 of (seed, path). */
    static boolean inTest(String relative, long splitSeed, double testFraction) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(ByteBuffer.allocate(8).putLong(splitSeed).array());
            byte[] digest = sha.digest(relative.getBytes(StandardCharsets.UTF_8));
            double u = (ByteBuffer.wrap(digest).getLong() >>> 11) * 0x1p-53;
            return u < testFraction;
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    /** The sorted names of {@code dir}'s non-hidden sub-folders: at least two, none empty. */
    private static List<String> classFolders(Path dir) throws DatasetException {
        TreeSet<String> names = new TreeSet<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
                    .forEach(names::add);
        } catch (IOException e) {
            throw DatasetException.at(dir, "cannot list: " + e.getMessage(), e);
        }
        if (names.isEmpty()) {
            throw DatasetException.at(dir, "no class sub-folders: expected " + dir + "/<class>/<image> (one folder "
                    + "per class), or train/ and test/ each holding them");
        }
        if (names.size() == 1) {
            throw DatasetException.at(dir, "only one class folder ('" + names.first() + "'): a classifier needs at "
                    + "least two");
        }
        return List.copyOf(names);
    }

    /** The non-hidden regular files below {@code classDir}, sorted by their path relative to the data folder. */
    private static List<Entry> files(Path root, Path classDir, int label) throws DatasetException {
        List<Entry> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(classDir, FileVisitOption.FOLLOW_LINKS)) {
            s.filter(Files::isRegularFile)
                    .filter(p -> !hidden(classDir.relativize(p)))
                    .forEach(p -> out.add(new Entry(p, relative(root, p), label)));
        } catch (IOException | UncheckedIOException e) {
            throw DatasetException.at(classDir, "cannot list: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw DatasetException.at(classDir, "empty class folder: no image files in it");
        out.sort(Comparator.comparing(Entry::relative));
        return out;
    }

    private static boolean hidden(Path relative) {
        for (Path part : relative) if (part.toString().startsWith(".")) return true;
        return false;
    }

    private static String relative(Path root, Path file) {
        StringBuilder s = new StringBuilder();
        for (Path part : root.relativize(file)) s.append(s.isEmpty() ? "" : "/").append(part);
        return s.toString();
    }

    /** Files lying in the data folder itself belong to no class: said, not silently dropped. */
    private static void notLooseFiles(Path root, List<String> notes) throws DatasetException {
        try (Stream<Path> s = Files.list(root)) {
            long loose = s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                    .count();
            if (loose > 0) notes.add(loose + " file" + (loose == 1 ? "" : "s") + " directly in " + root
                    + " belong to no class folder and are not used");
        } catch (IOException e) {
            throw DatasetException.at(root, "cannot list: " + e.getMessage(), e);
        }
    }

    public Path root() { return root; }

    /** True for the train/ + test/ layout, false for one tree split by the test fraction. */
    public boolean presplit() { return presplit; }

    /** The test fraction of a one-tree folder; NaN for train/ + test/. */
    public double testFraction() { return testFraction; }

    public long splitSeed() { return splitSeed; }

    /** The class names, sorted: label k is classes().get(k). */
    public List<String> classes() { return classes; }

    /** The files of a split, by class then path. */
    public List<Entry> entries(boolean trainSplit) { return trainSplit ? train : test; }

    /** What the scan noticed that is not an error (classes without test images, files outside class folders). */
    public List<String> notes() { return notes; }

    /**
     * Decodes split {@code trainSplit} for a model of {@code size} × {@code size} inputs with {@code channels} (1 or
     * 3) channels, to be served with {@code augmentation}; undecodable files are skipped, each reported to
     * {@code log} with the reason, then the count. Keeps decoded images in memory up to {@code cacheBytes}.
     */
    public FolderImages load(boolean trainSplit, int size, int channels, Augmentation augmentation, long cacheBytes,
            Consumer<String> log) throws DatasetException {
        return FolderImages.load(this, trainSplit, size, channels, augmentation, cacheBytes, log);
    }

    @Override
    public String toString() {
        return root + " (" + classes.size() + " classes, " + train.size() + " train / " + test.size() + " test files"
                + (presplit ? ", train/ and test/" : ", test fraction " + testFraction + ", split seed " + splitSeed)
                + ")";
    }
}
