package ai.crate.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.model.io.TorchZips.Pickle;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * torch.save archives: the fixtures of tools/pytorch/gen_io_fixtures.py (torch 1.13) against their hand-written
 * safetensors twins, files to refuse, and hand-built archives for the cases torch cannot be made to write.
 */
class TorchCheckpointsTest {
    private static final String AS_F32 = "as_f32/";

    @TempDir
    Path dir;

    static Path fixture(String name) {
        URL url = TorchCheckpointsTest.class.getResource("/io/" + name);
        if (url == null) throw new IllegalStateException("missing test resource io/" + name);
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The twin's tensors without the as_f32/ copies, in the twin's order. */
    private static Map<String, StoredTensor> stored(TensorFile twin) {
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        twin.tensors().forEach((k, v) -> {
            if (!k.startsWith(AS_F32)) out.put(k, v);
        });
        return out;
    }

    /** Same keys in the same order, each tensor equal to the twin's, floating ones equal to torch's .float(). */
    private static void assertMatchesTwin(TensorFile read, TensorFile twin) {
        Map<String, StoredTensor> expected = stored(twin);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(read.tensors().keySet()));
        for (Map.Entry<String, StoredTensor> e : expected.entrySet()) {
            StoredTensor actual = read.tensors().get(e.getKey());
            assertEquals(e.getValue(), actual, e.getKey());
            if (actual.dtype().isFloating()) {
                assertArrayEquals(twin.tensors().get(AS_F32 + e.getKey()).floats(), actual.floats(), e.getKey());
            }
        }
        assertEquals(twin.metadata(), read.metadata());
    }

    /** The message of the CheckpointException reading {@code file} throws; the exception carries the path. */
    private static String failure(Path file) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchCheckpoints.read(file));
        assertEquals(file, e.file());
        return e.getMessage();
    }

    // ---- fixtures torch.save wrote ------------------------------------------------------------------------------

    @Test
    void plainStateDictMatchesItsTwin() throws IOException {
        TensorFile read = TorchCheckpoints.read(fixture("plain_state_dict.pth"));
        assertMatchesTwin(read, SafeTensors.read(fixture("plain_state_dict.expected.safetensors")));
        assertEquals(Map.of(), read.metadata());

        // Spot checks written out here, independent of the twin.
        Map<String, StoredTensor> t = read.tensors();
        assertEquals(DType.F16, t.get("half").dtype());
        float[] half = t.get("half").floats();
        assertEquals(65504f, half[6]);
        assertEquals(Math.scalb(1f, -24), half[8]);
        assertEquals(Float.POSITIVE_INFINITY, half[11]);
        assertEquals(DType.BF16, t.get("bf16").dtype());
        assertArrayEquals(new float[] {0.1f, 1f / 3, 1e-40f, -123456789.123456789f}, t.get("f64").floats());
        assertArrayEquals(new long[] {-(1L << 40), 7, (1L << 62) + 1}, t.get("counts_i64").longs());
        assertArrayEquals(new long[] {0, 255, 17}, t.get("u8").longs());
        assertArrayEquals(new long[] {1, 0, 1, 1}, t.get("mask_bool").longs());
        assertArrayEquals(new int[] {}, t.get("scalar").shape());
        assertArrayEquals(new float[] {2.75f}, t.get("scalar").floats());
        assertArrayEquals(new int[] {0, 3}, t.get("empty").shape());
        assertEquals(t.get("weight_f32"), t.get("tied"));
    }

    @Test
    void viewsAreMaterialisedRowMajor() throws IOException {
        Map<String, StoredTensor> t = TorchCheckpoints.read(fixture("plain_state_dict.pth")).tensors();
        StoredTensor transposed = t.get("transposed"); // base[3,4].t(): element [i][j] is base[j][i]
        assertArrayEquals(new int[] {4, 3}, transposed.shape());
        StoredTensor sliced = t.get("sliced");         // base[4,6][1:, 1::2]: offset 7, strides (6, 2)
        assertArrayEquals(new int[] {3, 3}, sliced.shape());
        Map<String, StoredTensor> twin = SafeTensors.read(fixture("plain_state_dict.expected.safetensors")).tensors();
        assertArrayEquals(twin.get("transposed").floats(), transposed.floats());
        assertArrayEquals(twin.get("sliced").floats(), sliced.floats());
        float[] tr = transposed.floats();
        assertFalse(tr[1] == tr[3], "a transposed [4,3] read as if contiguous would repeat the storage order");
    }

    @Test
    void trainingCheckpointGivesTheStateDictWithoutModulePrefixAndScalarMetadata() throws IOException {
        TensorFile read = TorchCheckpoints.read(fixture("checkpoint.pth.tar"));
        assertMatchesTwin(read, SafeTensors.read(fixture("checkpoint.expected.safetensors")));
        assertEquals(Map.of("epoch", "10", "arch", "CRATE_small", "best_acc1", "78.25"), read.metadata());
        assertEquals(List.of("cls_token", "seen", "proj.weight", "proj.bias", "norm.weight", "norm.bias"),
                List.copyOf(read.tensors().keySet()));
        assertArrayEquals(new long[] {7}, read.tensors().get("seen").longs());
    }

    @Test
    void checkpointUnderTheModelKeyWithSgdAndCosineSchedule() throws IOException {
        TensorFile read = TorchCheckpoints.read(fixture("model_key.pth"));
        assertMatchesTwin(read, SafeTensors.read(fixture("model_key.expected.safetensors")));
        assertEquals(Map.of("epoch", "3", "best_acc1", "61.5"), read.metadata());
    }

    @Test
    void bigEndianArchiveIsReadInItsByteOrder() throws IOException {
        TensorFile read = TorchCheckpoints.read(fixture("big_endian.pth"));
        assertMatchesTwin(read, SafeTensors.read(fixture("big_endian.expected.safetensors")));
        assertArrayEquals(new long[] {-3, 1L << 50, 9}, read.tensors().get("n").longs());
    }

    // ---- fixtures to refuse ------------------------------------------------------------------------------------

    @Test
    void legacyFormatIsRefusedWithAdvice() {
        assertEquals("legacy.pth: legacy torch.save format (PyTorch < 1.6, or _use_new_zipfile_serialization=False) "
                + "is not supported; re-save it with torch >= 1.6: torch.save(torch.load(path), path)",
                failure(fixture("legacy.pth")));
    }

    @Test
    void truncatedArchive() {
        String message = failure(fixture("truncated.pth"));
        assertTrue(message.startsWith("truncated.pth: truncated or corrupt zip archive"), message);
    }

    @Test
    void missingStorageEntry() {
        assertEquals("missing_storage.pth: tensor 'w' (storage '0', F32[5]): storage entry 'archive/data/0' is "
                + "missing", failure(fixture("missing_storage.pth")));
    }

    @Test
    void storageEntryShorterThanTheStorage() {
        assertEquals("short_storage.pth: tensor 'w' (storage '0', F32[5]): storage entry 'archive/data/0' holds 8 "
                + "bytes, the storage needs 20", failure(fixture("short_storage.pth")));
    }

    @ParameterizedTest
    @CsvSource({"malicious_os_system.pth, os.system", "malicious_eval.pth, builtins.eval",
            "malicious_getattr.pth, __builtin__.getattr"})
    void maliciousPickleIsRefusedNamingTheGlobal(String file, String global) throws IOException {
        Path marker = Path.of("/tmp/crate_io_pwned_marker"); // what the os.system payload would create
        Files.deleteIfExists(marker);
        assertEquals(file + ": archive/data.pkl: global '" + global + "' is not allowed: only the constructors a "
                + "state_dict needs are (nothing was called)", failure(fixture(file)));
        assertFalse(Files.exists(marker));
    }

    // ---- hand-built archives -----------------------------------------------------------------------------------

    /** An archive holding {@code pickle} and F32 storage "0" of the given values. */
    private Path archive(String name, byte[] pickle, float... storage) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", pickle);
        entries.put("archive/data/0", TorchZips.f32(storage));
        entries.put("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return TorchZips.zip(dir.resolve(name), entries);
    }

    @Test
    void handBuiltArchiveReads() throws IOException {
        // The control for the cases below: a [2, 2] view with offset 1 and strides (1, 2) of a 5-element storage.
        byte[] pickle = new Pickle().orderedDict().mark().str("w").tensor("0", 5, 1, new int[] {2, 2}, new int[] {1, 2})
                .raw('u').stop();
        TensorFile read = TorchCheckpoints.read(archive("ok.pth", pickle, 10, 11, 12, 13, 14));
        assertArrayEquals(new float[] {11, 13, 12, 14}, read.tensors().get("w").floats());
    }

    @Test
    void tensorExtentPastItsStorage() throws IOException {
        byte[] pickle = new Pickle().orderedDict().mark().str("w").tensor("0", 5, 2, new int[] {2, 3}, new int[] {3, 1})
                .raw('u').stop();
        assertEquals("extent.pth: tensor 'w' (storage '0', F32[5]): shape [2, 3], stride [3, 1], offset 2 reach "
                + "element 7, past the storage's 5 elements", failure(archive("extent.pth", pickle, 1, 2, 3, 4, 5)));
    }

    @Test
    void broadcastViewsMayNotMultiplyTheFileBeyondTheBudget() throws IOException {
        // Stride 0 shows one element 2^25 times: 128 MB from a file of a few hundred bytes.
        byte[] pickle = new Pickle().orderedDict().mark().str("w").tensor("0", 1, 0, new int[] {1 << 25},
                new int[] {0}).raw('u').stop();
        String message = failure(archive("broadcast.pth", pickle, 3));
        assertTrue(message.startsWith("broadcast.pth: tensor 'w' (storage '0', F32[1]): materialising shape "
                + "[33554432] would exceed"), message);
        // A small broadcast view is fine.
        byte[] small = new Pickle().orderedDict().mark().str("w").tensor("0", 2, 0, new int[] {3, 2},
                new int[] {0, 1}).raw('u').stop();
        assertArrayEquals(new float[] {4, 5, 4, 5, 4, 5},
                TorchCheckpoints.read(archive("small.pth", small, 4, 5)).tensors().get("w").floats());
    }

    @Test
    void keysThatCollideOnceModuleIsStripped() throws IOException {
        byte[] pickle = new Pickle().orderedDict().mark()
                .str("module.w").tensor("0", 2, 0, new int[] {2}, new int[] {1})
                .str("w").tensor("0", 2, 0, new int[] {2}, new int[] {1}).raw('u').stop();
        assertEquals("clash.pth: state_dict keys 'module.w' and 'w' are both 'w' once the DataParallel prefix "
                + "'module.' is stripped", failure(archive("clash.pth", pickle, 1, 2)));
    }

    @Test
    void dictThatIsNeitherStateDictNorCheckpoint() throws IOException {
        byte[] pickle = new Pickle().raw('}').mark().str("w").tensor("0", 2, 0, new int[] {2}, new int[] {1})
                .str("epoch").integer(3).raw('u').stop();
        assertEquals("mixed.pth: saved dict has no 'state_dict' or 'model' dict and is not a state_dict either: "
                + "entry 'epoch' is an int (keys: [w, epoch])", failure(archive("mixed.pth", pickle, 1, 2)));
    }

    @Test
    void lengthPrefixLargerThanThePickleIsRefusedBeforeAllocating() throws IOException {
        // BINUNICODE8 declaring 2^40 bytes: razorvine would allocate before noticing the pickle is 20 bytes long.
        byte[] pickle = new Pickle().raw(0x8d, 0, 0, 0, 0, 0, 1, 0, 0).stop();
        assertEquals("len.pth: archive/data.pkl: opcode 0x8d declares 1099511627776 bytes but only 1 are left in "
                + "the pickle", failure(archive("len.pth", pickle, 1)));
    }

    @Test
    void listAsDictKeyIsRefused() throws IOException {
        // Python cannot hash a list; Java would hash it recursively (forever, were it to contain itself).
        byte[] pickle = new Pickle().raw('}', ']').integer(1).raw('s').stop();
        assertEquals("listkey.pth: archive/data.pkl: dict key of type list", failure(archive("listkey.pth", pickle, 1)));
    }

    @Test
    void deeplyNestedPersistentIdIsRefusedWithoutStackOverflow() throws IOException {
        Pickle p = new Pickle().integer(0);
        for (int i = 0; i < 200_000; i++) p.raw(0x85); // TUPLE1: ((((0,),),),...)
        byte[] pickle = p.raw('Q').stop();
        assertEquals("deep.pth: archive/data.pkl: malformed pickle: unsupported persistent id (((((...),),),),)",
                failure(archive("deep.pth", pickle, 1)));
    }

    @Test
    void unsupportedStorageType() throws IOException {
        byte[] pickle = new Pickle().global("torch", "ComplexFloatStorage").stop();
        assertEquals("complex.pth: archive/data.pkl: storage type 'torch.ComplexFloatStorage' is not supported "
                + "(supported: float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8, bool)",
                failure(archive("complex.pth", pickle, 1)));
    }

    @Test
    void malformedPickle() throws IOException {
        byte[] pickle = new Pickle().raw('R').stop(); // REDUCE on an empty stack
        String message = failure(archive("bad.pth", pickle, 1));
        assertTrue(message.startsWith("bad.pth: archive/data.pkl: malformed pickle:"), message);
    }

    @Test
    void fileThatIsNotAnArchive() throws IOException {
        Path file = Files.write(dir.resolve("text.pth"), "hello".getBytes(StandardCharsets.US_ASCII));
        assertEquals("text.pth: not a torch.save zip archive (4 leading bytes: 68 65 6c 6c)", failure(file));
    }

    @Test
    void zipWithoutDataPkl() throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("readme.txt", "hi".getBytes(StandardCharsets.US_ASCII));
        Path file = TorchZips.zip(dir.resolve("other.zip"), entries);
        assertEquals("other.zip: zip archive has no <prefix>/data.pkl entry, so it was not written by torch.save",
                failure(file));
    }

    @Test
    void everyFixtureIsSmall() throws IOException {
        List<String> big = new ArrayList<>();
        try (var files = Files.list(fixture("plain_state_dict.pth").getParent())) {
            files.filter(f -> {
                try {
                    return Files.size(f) > 16_384;
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }).forEach(f -> big.add(f.getFileName().toString()));
        }
        assertEquals(List.of(), big);
    }
}
