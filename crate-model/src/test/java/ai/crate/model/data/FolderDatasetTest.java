package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A folder per class: listing, the stable split, decoding with skips, caching, statistics and every error. */
class FolderDatasetTest {
    @TempDir
    Path dir;

    /** Class "bird": grey PNGs, 16-bit PNG, JPEG; class "cat": RGB, RGBA and palette PNGs, in a sub-folder too. */
    private Path mixedTree(Path root) throws IOException {
        ImageFixtures.grey8(root.resolve("bird/a.png"), 12, 10);
        ImageFixtures.grey16(root.resolve("bird/b.png"), 10, 12);
        ImageFixtures.flatJpeg(root.resolve("bird/c.jpg"), 16, 16, 10, 200, 30);
        ImageFixtures.rgb(root.resolve("cat/x.png"), "png", 10, 10);
        ImageFixtures.rgba(root.resolve("cat/deeper/y.png"), 10, 14);
        ImageFixtures.palette(root.resolve("cat/z.png"), 9, 9);
        return root;
    }

    @Test
    void listsClassesAndFilesInSortedOrder() throws IOException {
        Path root = mixedTree(dir.resolve("data"));
        Files.writeString(root.resolve("cat/.DS_Store"), "hidden: not listed");
        FolderDataset f = FolderDataset.scan(root, 0.5, 0);
        assertEquals(List.of("bird", "cat"), f.classes());
        List<FolderDataset.Entry> all = new ArrayList<>(f.entries(true));
        all.addAll(f.entries(false));
        Map<String, Integer> labels = all.stream().collect(Collectors.toMap(FolderDataset.Entry::relative,
                FolderDataset.Entry::label));
        assertEquals(Map.of("bird/a.png", 0, "bird/b.png", 0, "bird/c.jpg", 0, "cat/x.png", 1, "cat/deeper/y.png", 1,
                "cat/z.png", 1), labels);
        for (boolean train : new boolean[] {true, false}) {
            List<String> names = f.entries(train).stream().map(FolderDataset.Entry::relative).toList();
            assertEquals(names.stream().sorted().toList(), names, "by class, then path");
        }
    }

    @Test
    void theSplitOfAnImageDependsOnlyOnItsPathAndTheSeed() throws IOException {
        Path root = dir.resolve("many");
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 60; i++) ImageFixtures.grey8(root.resolve("c" + k + "/img" + i + ".png"), 4, 4);
        }
        FolderDataset before = FolderDataset.scan(root, 0.25, 7);
        int test = before.entries(false).size();
        assertTrue(test > 15 && test < 45, "about a quarter of 120 in the test split: " + test);
        for (int i = 60; i < 90; i++) ImageFixtures.grey8(root.resolve("c0/img" + i + ".png"), 4, 4);
        FolderDataset after = FolderDataset.scan(root, 0.25, 7);
        for (boolean train : new boolean[] {true, false}) {
            assertEquals(names(before.entries(train)), names(after.entries(train)).stream().filter(n -> !isNew(n))
                    .toList(), "adding images moved none of the others across the split");
        }
        assertTrue(names(after.entries(false)).stream().anyMatch(FolderDatasetTest::isNew), "new images join both sides");
        assertEquals(after.entries(false), FolderDataset.scan(root, 0.25, 7).entries(false), "the same scan twice");
        assertNotEquals(names(after.entries(false)), names(FolderDataset.scan(root, 0.25, 8).entries(false)),
                "another seed, another split");
    }

    private static List<String> names(List<FolderDataset.Entry> entries) {
        return entries.stream().map(FolderDataset.Entry::relative).toList();
    }

    /** The images added after the first scan: c0/img60.png … c0/img89.png. */
    private static boolean isNew(String relative) {
        return relative.startsWith("c0/img") && Integer.parseInt(relative.substring(6, relative.length() - 4)) >= 60;
    }

    @Test
    void decodesToTheModelsSizeAndChannelsSkippingWhatIsNotAnImage() throws IOException {
        Path root = mixedTree(dir.resolve("data"));
        Files.writeString(root.resolve("bird/readme.txt"), "a note, not an image");
        ImageFixtures.truncated(ImageFixtures.rgb(root.resolve("cat/broken.png"), "png", 40, 40));
        List<String> log = new ArrayList<>();
        FolderDataset all = FolderDataset.scan(root, 0.5, 0);
        FolderImages train = all.load(true, 8, 1, Augmentation.none(), 1 << 20, log::add);
        FolderImages test = all.load(false, 8, 1, Augmentation.none(), 1 << 20, log::add);
        assertEquals(all.entries(true).size() + all.entries(false).size() - 2, train.size() + test.size());
        assertEquals(2, train.skipped() + test.skipped());
        List<String> skips = log.stream().filter(l -> l.startsWith("skipped ")).toList();
        assertEquals(2, skips.size(), log.toString());
        assertTrue(skips.stream().anyMatch(l -> l.contains("readme.txt") && l.contains("not an image format")), skips.toString());
        assertTrue(skips.stream().anyMatch(l -> l.contains("broken.png")), skips.toString());
        assertTrue(log.stream().anyMatch(l -> l.contains("file skipped") || l.contains("files skipped")), log.toString());
        for (FolderImages split : List.of(train, test)) {
            for (int i = 0; i < split.size(); i++) {
                Picture p = split.picture(i);
                assertEquals(1, p.channels());
                assertEquals(8, p.height());
                assertEquals(8, p.width());
                Picture want = Picture.read(split.entry(i).file()).withChannels(1).fitted(8);
                assertArrayEquals(want.pixels(), p.pixels(), split.entry(i).relative());
            }
        }
        assertEquals(List.of("bird", "cat"), train.classNames());
    }

    @Test
    void theCacheChangesNothingButTheSpeed() throws IOException {
        Path root = mixedTree(dir.resolve("data"));
        FolderDataset f = FolderDataset.scan(root, 0.4, 3);
        Augmentation aug = Augmentation.randomResizedCrop(0.3, true);
        FolderImages cached = f.load(true, 6, 3, aug, 1 << 20, s -> {});
        FolderImages uncached = f.load(true, 6, 3, aug, 0, s -> {});
        assertEquals(cached.size(), cached.cached());
        assertTrue(cached.inMemory());
        assertEquals(0, uncached.cached());
        assertFalse(uncached.inMemory());
        Normalization norm = cached.statistics();
        assertEquals(norm, uncached.statistics());
        BatchLoader a = new BatchLoader(cached, 2, true, false, aug, norm, 11);
        BatchLoader b = new BatchLoader(uncached, 2, true, false, aug, norm, 11);
        for (int epoch = 0; epoch < 2; epoch++) {
            for (int step = 0; step < a.stepsPerEpoch(); step++) assertEquals(a.batch(epoch, step), b.batch(epoch, step));
        }
        assertNotEquals(a.batch(0, 0), a.batch(1, 0), "another epoch, other crops");
    }

    @Test
    void keepsWholeImagesForResizedCropsWithinTheBoundTheScaleNeeds() throws IOException {
        Path root = dir.resolve("big");
        ImageFixtures.rgb(root.resolve("a/wide.png"), "png", 60, 90);
        ImageFixtures.rgb(root.resolve("a/small.png"), "png", 7, 9);
        ImageFixtures.rgb(root.resolve("b/one.png"), "png", 20, 20);
        FolderDataset f = FolderDataset.scan(root, 0.01, 0);
        FolderImages images = f.load(true, 8, 3, Augmentation.randomResizedCrop(0.25, false), 1 << 20, s -> {});
        Map<String, Picture> byName = new java.util.HashMap<>();
        for (int i = 0; i < images.size(); i++) byName.put(images.entry(i).relative(), images.picture(i));
        assertEquals(16, byName.get("a/wide.png").height(), "shorter side reduced to 8/√0.25");
        assertEquals(24, byName.get("a/wide.png").width());
        assertEquals(7, byName.get("a/small.png").height(), "a smaller image is never enlarged");
        assertEquals(16, byName.get("b/one.png").height());
    }

    @Test
    void statisticsAreThoseOfTheImagesAsEvaluationSeesThem() throws IOException {
        Path root = dir.resolve("flat");
        ImageFixtures.flatGreyJpeg(root.resolve("dark/a.jpg"), 8, 8, 0);
        ImageFixtures.grey8(root.resolve("light/b.png"), 8, 8);
        FolderDataset f = FolderDataset.scan(root, 0.01, 0);
        FolderImages train = f.load(true, 8, 1, Augmentation.none(), 1 << 20, s -> {});
        double sum = 0, squares = 0;
        int n = 0;
        for (int i = 0; i < train.size(); i++) {
            Picture p = train.picture(i);
            for (byte v : p.pixels()) {
                sum += (v & 255) / 255.0;
                squares += Math.pow((v & 255) / 255.0, 2);
                n++;
            }
        }
        double mean = sum / n;
        assertEquals(mean, train.statistics().mean()[0], 1e-6);
        assertEquals(Math.sqrt(squares / n - mean * mean), train.statistics().std()[0], 1e-6);
    }

    @Test
    void readsTrainAndTestFolders() throws IOException {
        Path root = dir.resolve("split");
        ImageFixtures.grey8(root.resolve("train/ant/1.png"), 5, 5);
        ImageFixtures.grey8(root.resolve("train/bee/2.png"), 5, 5);
        ImageFixtures.grey8(root.resolve("train/bee/3.png"), 5, 5);
        ImageFixtures.grey8(root.resolve("test/ant/4.png"), 5, 5);
        ImageFixtures.grey8(root.resolve("test/bee/5.png"), 5, 5);
        FolderDataset f = FolderDataset.scan(root, 0.2, 0);
        assertTrue(f.presplit());
        assertEquals(List.of("ant", "bee"), f.classes());
        assertEquals(List.of("train/ant/1.png", "train/bee/2.png", "train/bee/3.png"),
                f.entries(true).stream().map(FolderDataset.Entry::relative).toList());
        assertEquals(2, f.entries(false).size());
        Files.createDirectories(root.resolve("test/cow"));
        ImageFixtures.grey8(root.resolve("test/cow/6.png"), 5, 5);
        DatasetException e = assertThrows(DatasetException.class, () -> FolderDataset.scan(root, 0.2, 0));
        assertTrue(e.getMessage().contains("different classes") && e.getMessage().contains("cow"), e.getMessage());
    }

    @Test
    void errorsNameTheFolder() throws IOException {
        Path missing = dir.resolve("nope");
        assertMessage(() -> FolderDataset.scan(missing, 0.2, 0), missing + ": no such folder");
        Path flat = dir.resolve("flat");
        ImageFixtures.grey8(flat.resolve("a.png"), 4, 4);
        assertMessage(() -> FolderDataset.scan(flat, 0.2, 0), flat + ": no class sub-folders");
        Path one = dir.resolve("one");
        ImageFixtures.grey8(one.resolve("only/a.png"), 4, 4);
        assertMessage(() -> FolderDataset.scan(one, 0.2, 0), "only one class folder ('only')");
        Path empty = dir.resolve("empty");
        ImageFixtures.grey8(empty.resolve("full/a.png"), 4, 4);
        Files.createDirectories(empty.resolve("hollow"));
        assertMessage(() -> FolderDataset.scan(empty, 0.2, 0), empty.resolve("hollow") + ": empty class folder");
        Path half = dir.resolve("half");
        ImageFixtures.grey8(half.resolve("train/a/x.png"), 4, 4);
        assertMessage(() -> FolderDataset.scan(half, 0.2, 0), "has train/ but no test/");
        Path junk = dir.resolve("junk");
        ImageFixtures.grey8(junk.resolve("good/a.png"), 4, 4);
        Files.createDirectories(junk.resolve("bad"));
        Files.writeString(junk.resolve("bad/a.txt"), "text");
        Files.writeString(junk.resolve("bad/b.txt"), "text");
        FolderDataset f = FolderDataset.scan(junk, 0.001, 0);
        assertMessage(() -> f.load(true, 4, 1, Augmentation.none(), 0, s -> {}),
                "class 'bad' has no decodable image in the training split");
        assertThrows(IllegalArgumentException.class, () -> FolderDataset.scan(junk, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> FolderDataset.scan(junk, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> f.load(true, 4, 2, Augmentation.none(), 0, s -> {}));
    }

    @Test
    void saysWhatItNoticesWithoutFailing() throws IOException {
        Path root = dir.resolve("notes");
        ImageFixtures.grey8(root.resolve("a/1.png"), 4, 4);
        ImageFixtures.grey8(root.resolve("b/2.png"), 4, 4);
        ImageFixtures.grey8(root.resolve("stray.png"), 4, 4);
        FolderDataset f = FolderDataset.scan(root, 0.001, 0);
        assertTrue(f.notes().stream().anyMatch(n -> n.contains("1 file directly in")), f.notes().toString());
        assertTrue(f.notes().stream().anyMatch(n -> n.contains("class 'a' has no test images")), f.notes().toString());
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String part) {
        Exception e = assertThrows(Exception.class, call);
        assertTrue(e.getMessage().contains(part), "expected «" + part + "» in: " + e.getMessage());
    }
}
