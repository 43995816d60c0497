package ai.crate.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The safetensors reader and writer: round trips, atomic replacement, and one test per kind of malformed file. */
class SafeTensorsTest {
    @TempDir
    Path dir;

    // ---- round trip --------------------------------------------------------------------------------------------

    private static float[] randomFloats(SplittableRandom rnd, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) (rnd.nextDouble(-3, 3) + (i % 2 == 0 ? 0.5 : -0.5));
        return out;
    }

    private static Map<String, StoredTensor> awkwardTensors() {
        SplittableRandom rnd = new SplittableRandom(42);
        Map<String, StoredTensor> t = new LinkedHashMap<>();
        t.put("scalar", StoredTensor.f32(new int[] {}, new float[] {-1.625f}));
        t.put("one", StoredTensor.f32(new int[] {1}, new float[] {3.5e-20f}));
        t.put("w.3x17", StoredTensor.f32(new int[] {3, 17}, randomFloats(rnd, 51)));
        t.put("empty", StoredTensor.f32(new int[] {0}, new float[0]));
        t.put("empty.2x0x3", StoredTensor.f32(new int[] {2, 0, 3}, new float[0]));
        t.put("labels", StoredTensor.i64(new int[] {4}, new long[] {Long.MIN_VALUE, -1, 7, Long.MAX_VALUE}));
        t.put("half", StoredTensor.ofFloats(DType.F16, new int[] {5}, randomFloats(rnd, 5)));
        t.put("brain", StoredTensor.ofFloats(DType.BF16, new int[] {2, 3}, randomFloats(rnd, 6)));
        t.put("double", StoredTensor.ofFloats(DType.F64, new int[] {2}, new float[] {0.1f, -7e30f}));
        t.put("i32", StoredTensor.ofLongs(DType.I32, new int[] {2}, new long[] {Integer.MIN_VALUE, 12345}));
        t.put("i16", StoredTensor.ofLongs(DType.I16, new int[] {2}, new long[] {-32768, 32767}));
        t.put("i8", StoredTensor.ofLongs(DType.I8, new int[] {3}, new long[] {-128, 127, 5}));
        t.put("u8", StoredTensor.ofLongs(DType.U8, new int[] {3}, new long[] {0, 255, 9}));
        t.put("mask", StoredTensor.ofLongs(DType.BOOL, new int[] {2, 2}, new long[] {1, 0, 0, 1}));
        t.put("ünïcode/名前", StoredTensor.f32(new int[] {2}, new float[] {Float.MIN_VALUE, -Float.MAX_VALUE}));
        return t;
    }

    @Test
    void roundTripKeepsEveryDtypeShapeValueOrderAndMetadata() throws IOException {
        Map<String, StoredTensor> tensors = awkwardTensors();
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("note", "quotes \" and \\ and ünïcode");
        Path file = dir.resolve("model.safetensors");

        SafeTensors.write(file, tensors, metadata);
        TensorFile read = SafeTensors.read(file);

        assertEquals(file, read.source());
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(read.tensors().keySet()));
        assertEquals(tensors, read.tensors());
        assertEquals(metadata, read.metadata());
        assertArrayEquals(new int[] {}, read.tensors().get("scalar").shape());
        assertEquals(1, read.tensors().get("scalar").numel());
        assertArrayEquals(new float[] {-1.625f}, read.tensors().get("scalar").floats());
    }

    @Test
    void writerLaysTensorsOutInInsertionOrderWithAPaddedHeader() throws IOException {
        Path file = dir.resolve("layout.safetensors");
        SafeTensors.write(file, awkwardTensors(), Map.of("k", "v"));
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length is a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.endsWith("}") || header.endsWith(" "), header);
        JsonObject json = JsonParser.parseString(header).getAsJsonObject();
        assertEquals("v", json.getAsJsonObject("__metadata__").get("k").getAsString());
        long expectedBegin = 0;
        for (Map.Entry<String, StoredTensor> e : awkwardTensors().entrySet()) {
            JsonObject entry = json.getAsJsonObject(e.getKey());
            assertEquals(e.getValue().dtype().name(), entry.get("dtype").getAsString());
            long begin = entry.getAsJsonArray("data_offsets").get(0).getAsLong();
            long end = entry.getAsJsonArray("data_offsets").get(1).getAsLong();
            assertEquals(expectedBegin, begin, e.getKey());
            assertEquals((long) e.getValue().numel() * e.getValue().dtype().itemSize(), end - begin, e.getKey());
            expectedBegin = end;
        }
        assertEquals(8 + n + expectedBegin, bytes.length);
    }

    @Test
    void writeReplacesAnExistingFile() throws IOException {
        Path file = dir.resolve("w.safetensors");
        SafeTensors.write(file, Map.of("a", StoredTensor.f32(new int[] {2}, new float[] {1, 2})), Map.of());
        SafeTensors.write(file, Map.of("b", StoredTensor.i64(new int[] {1}, new long[] {9})), Map.of());
        assertEquals(Map.of("b", StoredTensor.i64(new int[] {1}, new long[] {9})), SafeTensors.read(file).tensors());
        assertEquals(List.of(file), listDir());
    }

    // ---- atomic writes -----------------------------------------------------------------------------------------

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    @Test
    void aWriteThatFailsHalfwayLeavesTheOldFileAndNoTemporaryFile() throws IOException {
        Path file = dir.resolve("model.safetensors");
        SafeTensors.write(file, Map.of("a", StoredTensor.f32(new int[] {2}, new float[] {1.5f, -2})), Map.of());
        byte[] before = Files.readAllBytes(file);

        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(file, ch -> {
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
            throw new IOException("simulated disk full");
        }));
        assertEquals("simulated disk full", e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), listDir());
    }

    @Test
    void aWriteWhoseRenameFailsLeavesNoTemporaryFile() throws IOException {
        // The target is a non-empty directory: everything up to the final rename succeeds, the rename cannot.
        Path target = Files.createDirectory(dir.resolve("model.safetensors"));
        Path inside = Files.writeString(target.resolve("keep.txt"), "old");
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.write(target,
                Map.of("a", StoredTensor.f32(new int[] {1}, new float[] {1})), Map.of()));
        assertTrue(e.getMessage().startsWith("model.safetensors: cannot write"), e.getMessage());
        assertEquals(List.of(target), listDir());
        assertEquals("old", Files.readString(inside));
    }

    @Test
    void writeRefusesTheReservedMetadataNameBeforeCreatingAnything() throws IOException {
        Path file = dir.resolve("x.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(file,
                Map.of("__metadata__", StoredTensor.f32(new int[] {1}, new float[] {1})), Map.of()));
        assertEquals(List.of(), listDir());
    }

    // ---- malformed files: one test each ------------------------------------------------------------------------

    /** A file with {@code header} (padded with spaces to 8 bytes) as JSON and {@code data} as the data section. */
    private Path handMade(String name, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
        out.writeBytes(json);
        for (int i = json.length; i < padded; i++) out.write(' ');
        out.writeBytes(data);
        return Files.write(dir.resolve(name), out.toByteArray());
    }

    private static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i * 37 + 11);
        return b;
    }

    /** The message of the CheckpointException reading {@code file} throws; the exception carries the path. */
    private static String failure(Path file) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
        assertEquals(file, e.file());
        return e.getMessage();
    }

    @Test
    void handMadeFileReads() throws IOException {
        // The control for the malformed cases below: the same construction, well-formed.
        Path file = handMade("ok.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                TorchZips.f32(1.25f, -3));
        assertArrayEquals(new float[] {1.25f, -3}, SafeTensors.read(file).tensors().get("a").floats());
    }

    @Test
    void truncatedFile() throws IOException {
        Path full = dir.resolve("full.safetensors");
        SafeTensors.write(full, Map.of("w", StoredTensor.f32(new int[] {4, 4}, randomFloats(new SplittableRandom(1),
                16))), Map.of());
        byte[] bytes = Files.readAllBytes(full);
        Path cut = Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(bytes, bytes.length - 10));
        assertEquals("cut.safetensors: tensor 'w': data_offsets [0, 64] end past the data section of 54 bytes",
                failure(cut));
    }

    @Test
    void fileShorterThanTheHeaderLength() throws IOException {
        Path file = Files.write(dir.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        assertEquals("tiny.safetensors: file of 3 bytes is too short for the 8-byte header length", failure(file));
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        byte[] bytes = new byte[40];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Path file = Files.write(dir.resolve("h.safetensors"), bytes);
        assertEquals("h.safetensors: header length 1000 runs past the end of the file of 40 bytes", failure(file));
    }

    @Test
    void hugeHeaderLengthIsRefusedWithoutAllocating() throws IOException {
        byte[] bytes = new byte[16];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0xFFFF_FFFF_FFFF_FFF0L);
        Path file = Files.write(dir.resolve("huge.safetensors"), bytes);
        assertEquals("huge.safetensors: header length 18446744073709551600 runs past the end of the file of 16 bytes",
                failure(file));
    }

    @Test
    void headerLengthOverTheCapIsRefusedEvenWhenTheFileIsThatLarge() throws IOException {
        // A sparse file: 200 MB long, nothing written past the first 8 bytes, so no disk or memory is used.
        Path file = dir.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(150_000_000L).array());
            raf.setLength(200_000_000L);
        }
        assertEquals("sparse.safetensors: header length 150000000 exceeds the limit of 100000000 bytes",
                failure(file));
    }

    @Test
    void invalidJson() throws IOException {
        Path file = handMade("json.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2", bytes(8));
        String message = failure(file);
        assertTrue(message.startsWith("json.safetensors: header is not valid safetensors JSON:"), message);
    }

    @Test
    void wrongJsonStructure() throws IOException {
        Path file = handMade("shape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}",
                bytes(8));
        assertEquals("shape.safetensors: tensor 'a': 'shape' is STRING, not an array", failure(file));
    }

    @Test
    void headerThatIsNotUtf8() throws IOException {
        byte[] header = "{\"a\":{}}".getBytes(StandardCharsets.US_ASCII);
        header[2] = (byte) 0xC3; // a lead byte with no continuation
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
        out.writeBytes(header);
        Path file = Files.write(dir.resolve("utf.safetensors"), out.toByteArray());
        assertTrue(failure(file).startsWith("utf.safetensors: header is not valid UTF-8"), failure(file));
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        Path file = handMade("model.safetensors",
                "{\"cls_token\":{\"dtype\":\"F32\",\"shape\":[1024],\"data_offsets\":[0,4096]}}", bytes(1024));
        assertEquals("model.safetensors: tensor 'cls_token': data_offsets [0, 4096] end past the data section of "
                + "1024 bytes", failure(file));
    }

    @Test
    void offsetsReversed() throws IOException {
        Path file = handMade("rev.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}",
                bytes(8));
        assertEquals("rev.safetensors: tensor 'a': data_offsets [8, 4] is not [begin, end] with 0 <= begin <= end",
                failure(file));
    }

    @Test
    void overlappingOffsets() throws IOException {
        Path file = handMade("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", bytes(12));
        assertEquals("overlap.safetensors: tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]", failure(file));
    }

    @Test
    void gapBetweenTensors() throws IOException {
        Path file = handMade("gap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", bytes(16));
        assertEquals("gap.safetensors: tensor 'b': data_offsets [12, 16] leave bytes [8, 12) of the data section "
                + "unused after tensor 'a' [0, 8]", failure(file));
    }

    @Test
    void bytesAfterTheLastTensor() throws IOException {
        Path file = handMade("tail.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                bytes(12));
        assertEquals("tail.safetensors: data section of 12 bytes has bytes [8, 12) after the last tensor 'a' that "
                + "no tensor covers", failure(file));
    }

    @Test
    void sizeMismatch() throws IOException {
        Path file = handMade("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                bytes(8));
        assertEquals("size.safetensors: tensor 'a': F32 shape [3] needs 12 bytes but data_offsets [0, 8] span 8",
                failure(file));
    }

    @Test
    void shapeWhoseByteCountOverflows() throws IOException {
        int big = Integer.MAX_VALUE;
        Path file = handMade("overflow.safetensors", "{\"a\":{\"dtype\":\"F64\",\"shape\":[" + big + "," + big + ","
                + big + "],\"data_offsets\":[0,8]}}", bytes(8));
        assertEquals("overflow.safetensors: tensor 'a': F64 shape [" + big + ", " + big + ", " + big + "] overflows "
                + "a 64-bit byte count", failure(file));
    }

    @Test
    void negativeDimension() throws IOException {
        Path file = handMade("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,-1],\"data_offsets\":[0,8]}}",
                bytes(8));
        assertEquals("neg.safetensors: tensor 'a': shape [-2, -1] has dimension -2 outside [0, 2^31-1]",
                failure(file));
    }

    @Test
    void unknownDtype() throws IOException {
        Path file = handMade("dt.safetensors", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}",
                bytes(8));
        String message = failure(file);
        assertTrue(message.startsWith("dt.safetensors: tensor 'a': unsupported dtype 'F8_E4M3'"), message);
    }

    @Test
    void duplicateKey() throws IOException {
        Path file = handMade("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", bytes(8));
        assertEquals("dup.safetensors: duplicate key 'a' in the header", failure(file));
    }

    @Test
    void metadataValueThatIsNotAString() throws IOException {
        Path file = handMade("meta.safetensors", "{\"__metadata__\":{\"epoch\":10}}", new byte[0]);
        assertEquals("meta.safetensors: '__metadata__' value of 'epoch' is NUMBER, not a string", failure(file));
    }

    @Test
    void missingFileIsACheckpointException() {
        String message = failure(dir.resolve("absent.safetensors"));
        assertTrue(message.startsWith("absent.safetensors: cannot read: java.nio.file.NoSuchFileException"), message);
    }

    // ---- half precision ----------------------------------------------------------------------------------------

    private Path halfFile(String dtype, int... bits) throws IOException {
        ByteBuffer data = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int b : bits) data.putShort((short) b);
        return handMade(dtype + ".safetensors", "{\"x\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + bits.length
                + "],\"data_offsets\":[0," + 2 * bits.length + "]}}", data.array());
    }

    @Test
    void f16WidensExactly() throws IOException {
        StoredTensor t = SafeTensors.read(halfFile("F16", 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x3555, 0x7C00,
                0x8000)).tensors().get("x");
        assertEquals(DType.F16, t.dtype());
        float[] expected = {1f, -2f, 65504f, Math.scalb(1f, -24), -Math.scalb(1f, -14), 0x1.554p-2f,
                Float.POSITIVE_INFINITY, -0f};
        assertArrayEquals(expected, t.floats());
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(t.floats()[7]), "negative zero kept");
    }

    @Test
    void bf16WidensExactly() throws IOException {
        StoredTensor t = SafeTensors.read(halfFile("BF16", 0x3F80, 0xC049, 0x0001, 0x7F7F, 0xFF80, 0x3EAB))
                .tensors().get("x");
        assertEquals(DType.BF16, t.dtype());
        float[] expected = {1f, -3.140625f, Math.scalb(1f, -133), 0x1.FEp127f, Float.NEGATIVE_INFINITY,
                0x1.56p-2f};
        assertArrayEquals(expected, t.floats());
    }

    @Test
    void halfPrecisionRoundTripsBitForBit() throws IOException {
        int[] f16 = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x3555, 0x7C00, 0x03FF};
        Path file = halfFile("F16", f16);
        Path again = dir.resolve("again.safetensors");
        SafeTensors.write(again, SafeTensors.read(file).tensors(), Map.of());
        assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(again));

        List<Integer> bf = new ArrayList<>(List.of(0x3F80, 0xC049, 0x0001, 0x7F7F, 0xFF80, 0x3EAB));
        Path bfFile = halfFile("BF16", bf.stream().mapToInt(Integer::intValue).toArray());
        Path bfAgain = dir.resolve("bf-again.safetensors");
        SafeTensors.write(bfAgain, SafeTensors.read(bfFile).tensors(), Map.of());
        assertArrayEquals(Files.readAllBytes(bfFile), Files.readAllBytes(bfAgain));
    }
}
