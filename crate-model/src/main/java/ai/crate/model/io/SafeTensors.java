package ai.crate.model.io;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Hugging Face safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}}, then
 * the data section; offsets are relative to the data section's start and data is little-endian row-major.
 *
 * <p>Reading trusts nothing in the file: the header length is checked against the file size and a cap before
 * anything is allocated, and every tensor's offsets, size and dtype are checked before its data is read, so a tensor
 * never allocates more than its share of the file. As in the reference implementation, the tensors must tile the
 * data section exactly: no overlaps, no gaps, nothing after the last one.
 */
public final class SafeTensors {
    /** Larger headers are refused before allocation; real ones are a few hundred bytes per tensor. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String METADATA_KEY = "__metadata__";
    private static final int CHUNK_BYTES = 1 << 20;

    private SafeTensors() {}

    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        String offsets() { return "[" + begin + ", " + end + "]"; }
    }

    // ---- reading -----------------------------------------------------------------------------------------------

    /** Reads every tensor and the metadata of {@code file}. */
    public static TensorFile read(Path file) throws CheckpointException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw CheckpointException.at(file, "file of " + fileSize + " bytes is too short for the 8-byte header "
                        + "length");
            }
            long headerLength = readFully(ch, file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (headerLength < 0 || headerLength > fileSize - 8) {
                throw CheckpointException.at(file, "header length " + Long.toUnsignedString(headerLength)
                        + " runs past the end of the file of " + fileSize + " bytes");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw CheckpointException.at(file, "header length " + headerLength + " exceeds the limit of "
                        + MAX_HEADER_BYTES + " bytes");
            }
            String header = decodeUtf8(file, readFully(ch, file, 8, (int) headerLength));
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> entries = parseHeader(file, header, metadata);
            long dataStart = 8 + headerLength;
            checkLayout(file, entries, fileSize - dataStart);

            Map<String, StoredTensor> tensors = new LinkedHashMap<>();
            for (Entry e : entries) tensors.put(e.name(), readTensor(ch, file, dataStart, e));
            return new TensorFile(file, tensors, metadata);
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw CheckpointException.at(file, "cannot read: " + e, e);
        }
    }

    private static String decodeUtf8(Path file, ByteBuffer bytes) throws CheckpointException {
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw CheckpointException.at(file, "header is not valid UTF-8 (" + e + ")");
        }
    }

    /** The tensor entries in header order; fills {@code metadata} from {@code __metadata__}. */
    private static List<Entry> parseHeader(Path file, String header, Map<String, String> metadata)
            throws CheckpointException {
        List<Entry> entries = new ArrayList<>();
        JsonReader json = new JsonReader(new StringReader(header));
        json.setStrictness(Strictness.STRICT);
        try {
            if (json.peek() != JsonToken.BEGIN_OBJECT) {
                throw CheckpointException.at(file, "header is " + json.peek() + ", not a JSON object");
            }
            json.beginObject();
            // A JSON parser keeps the last of two equal keys; a second tensor of the same name is corruption.
            Set<String> seen = new HashSet<>();
            while (json.hasNext()) {
                String name = json.nextName();
                if (!seen.add(name)) throw CheckpointException.at(file, "duplicate key '" + name + "' in the header");
                if (name.equals(METADATA_KEY)) {
                    parseMetadata(file, json, metadata);
                } else {
                    entries.add(parseEntry(file, json, name));
                }
            }
            json.endObject();
            if (json.peek() != JsonToken.END_DOCUMENT) {
                throw CheckpointException.at(file, "header has content after its JSON object");
            }
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            // MalformedJsonException / EOFException: not JSON; IllegalStateException: JSON of the wrong shape.
            throw CheckpointException.at(file, "header is not valid safetensors JSON: " + e.getMessage(), e);
        }
        return entries;
    }

    private static void parseMetadata(Path file, JsonReader json, Map<String, String> metadata)
            throws IOException {
        if (json.peek() != JsonToken.BEGIN_OBJECT) {
            throw CheckpointException.at(file, "'" + METADATA_KEY + "' is " + json.peek() + ", not an object");
        }
        json.beginObject();
        while (json.hasNext()) {
            String key = json.nextName();
            if (json.peek() != JsonToken.STRING) {
                throw CheckpointException.at(file, "'" + METADATA_KEY + "' value of '" + key + "' is " + json.peek()
                        + ", not a string");
            }
            if (metadata.put(key, json.nextString()) != null) {
                throw CheckpointException.at(file, "duplicate key '" + key + "' in '" + METADATA_KEY + "'");
            }
        }
        json.endObject();
    }

    private static Entry parseEntry(Path file, JsonReader json, String name) throws IOException {
        String where = "tensor '" + name + "'";
        if (json.peek() != JsonToken.BEGIN_OBJECT) {
            throw CheckpointException.at(file, where + ": entry is " + json.peek() + ", not an object");
        }
        json.beginObject();
        String dtypeName = null;
        long[] shape = null;
        long[] offsets = null;
        while (json.hasNext()) {
            String field = json.nextName();
            switch (field) {
                case "dtype" -> {
                    if (dtypeName != null || json.peek() != JsonToken.STRING) {
                        throw CheckpointException.at(file, where + ": 'dtype' must appear once, as a string");
                    }
                    dtypeName = json.nextString();
                }
                case "shape" -> {
                    if (shape != null) throw CheckpointException.at(file, where + ": 'shape' appears twice");
                    shape = longArray(file, json, where, "shape");
                }
                case "data_offsets" -> {
                    if (offsets != null) throw CheckpointException.at(file, where + ": 'data_offsets' appears twice");
                    offsets = longArray(file, json, where, "data_offsets");
                }
                default -> throw CheckpointException.at(file, where + ": unexpected field '" + field + "'");
            }
        }
        json.endObject();
        if (dtypeName == null || shape == null || offsets == null) {
            throw CheckpointException.at(file, where + ": needs 'dtype', 'shape' and 'data_offsets'");
        }
        DType dtype = DType.fromSafetensorsName(dtypeName);
        if (dtype == null) {
            throw CheckpointException.at(file, where + ": unsupported dtype '" + dtypeName + "' (supported: "
                    + Arrays.toString(DType.values()) + ")");
        }
        int[] dims = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0 || shape[i] > Integer.MAX_VALUE) {
                throw CheckpointException.at(file, where + ": shape " + Arrays.toString(shape) + " has dimension "
                        + shape[i] + " outside [0, 2^31-1]");
            }
            dims[i] = (int) shape[i];
        }
        if (offsets.length != 2 || offsets[0] < 0 || offsets[1] < offsets[0]) {
            throw CheckpointException.at(file, where + ": data_offsets " + Arrays.toString(offsets)
                    + " is not [begin, end] with 0 <= begin <= end");
        }
        return new Entry(name, dtype, dims, offsets[0], offsets[1]);
    }

    private static long[] longArray(Path file, JsonReader json, String where, String field) throws IOException {
        if (json.peek() != JsonToken.BEGIN_ARRAY) {
            throw CheckpointException.at(file, where + ": '" + field + "' is " + json.peek() + ", not an array");
        }
        List<Long> values = new ArrayList<>();
        json.beginArray();
        while (json.hasNext()) {
            if (json.peek() != JsonToken.NUMBER) {
                throw CheckpointException.at(file, where + ": '" + field + "' holds " + json.peek() + ", not integers");
            }
            try {
                values.add(json.nextLong());
            } catch (NumberFormatException e) {
                throw CheckpointException.at(file, where + ": '" + field + "' holds a number that is not a 64-bit "
                        + "integer (" + e.getMessage() + ")");
            }
        }
        json.endArray();
        return values.stream().mapToLong(Long::longValue).toArray();
    }

    /** Sizes match shapes, offsets lie in the data section, and the tensors tile it without overlap or gap. */
    private static void checkLayout(Path file, List<Entry> entries, long dataBytes) throws CheckpointException {
        for (Entry e : entries) {
            String where = "tensor '" + e.name() + "': ";
            if (e.end() > dataBytes) {
                throw CheckpointException.at(file, where + "data_offsets " + e.offsets()
                        + " end past the data section of " + dataBytes + " bytes");
            }
            long expected;
            try {
                long numel = 1;
                for (int d : e.shape()) numel = Math.multiplyExact(numel, d);
                expected = Math.multiplyExact(numel, e.dtype().itemSize());
            } catch (ArithmeticException overflow) {
                throw CheckpointException.at(file, where + e.dtype() + " shape " + Arrays.toString(e.shape())
                        + " overflows a 64-bit byte count");
            }
            if (expected != e.end() - e.begin()) {
                throw CheckpointException.at(file, where + e.dtype() + " shape " + Arrays.toString(e.shape())
                        + " needs " + expected + " bytes but data_offsets " + e.offsets() + " span "
                        + (e.end() - e.begin()));
            }
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin() < covered) {
                throw CheckpointException.at(file, "tensor '" + e.name() + "': data_offsets " + e.offsets()
                        + " overlap tensor '" + previous.name() + "' " + previous.offsets());
            }
            if (e.begin() > covered) {
                throw CheckpointException.at(file, "tensor '" + e.name() + "': data_offsets " + e.offsets()
                        + " leave bytes [" + covered + ", " + e.begin() + ") of the data section unused"
                        + (previous == null ? "" : " after tensor '" + previous.name() + "' " + previous.offsets()));
            }
            covered = e.end();
            previous = e;
        }
        if (covered != dataBytes) {
            throw CheckpointException.at(file, "data section of " + dataBytes + " bytes has bytes [" + covered + ", "
                    + dataBytes + ") after the last tensor" + (previous == null ? "" : " '" + previous.name() + "'")
                    + " that no tensor covers");
        }
    }

    private static StoredTensor readTensor(FileChannel ch, Path file, long dataStart, Entry e) throws IOException {
        int itemSize = e.dtype().itemSize();
        long numelLong = (e.end() - e.begin()) / itemSize;
        if (numelLong > Integer.MAX_VALUE - 8) {
            throw CheckpointException.at(file, "tensor '" + e.name() + "': " + numelLong
                    + " elements are more than one Java array holds");
        }
        int numel = (int) numelLong;
        float[] floats = e.dtype().isFloating() ? new float[numel] : null;
        long[] longs = floats == null ? new long[numel] : null;
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, Math.max(itemSize, numelLong * itemSize)))
                .order(ByteOrder.LITTLE_ENDIAN);
        int perChunk = buf.capacity() / itemSize;
        long position = dataStart + e.begin();
        for (int done = 0; done < numel; ) {
            int count = Math.min(perChunk, numel - done);
            buf.clear().limit(count * itemSize);
            readInto(ch, file, position, buf, e.name());
            buf.flip();
            if (floats != null) {
                for (int i = 0; i < count; i++) floats[done + i] = Elements.readFloat(buf, e.dtype());
            } else {
                for (int i = 0; i < count; i++) longs[done + i] = Elements.readLong(buf, e.dtype());
            }
            position += (long) count * itemSize;
            done += count;
        }
        return floats != null ? StoredTensor.wrapFloats(e.dtype(), e.shape(), floats)
                : StoredTensor.wrapLongs(e.dtype(), e.shape(), longs);
    }

    private static ByteBuffer readFully(FileChannel ch, Path file, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        readInto(ch, file, position, buf, null);
        return buf.flip();
    }

    private static void readInto(FileChannel ch, Path file, long position, ByteBuffer buf, String key)
            throws IOException {
        long at = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, at);
            if (n < 0) {
                // The size was checked up front, so the file changed under us.
                throw CheckpointException.at(file, (key == null ? "" : "tensor '" + key + "': ")
                        + "file ended at byte " + at + " while reading (was it truncated while being read?)");
            }
            at += n;
        }
    }

    // ---- writing -----------------------------------------------------------------------------------------------

    /**
     * Writes {@code tensors} (laid out in the map's iteration order, each in its own dtype) and {@code metadata} to
     * {@code file}, replacing it atomically: a failure leaves any previous file untouched and no temporary file.
     *
     * @throws IllegalArgumentException for a null or reserved ({@code __metadata__}) name, or a null value
     * @throws CheckpointException      when the file cannot be written
     */
    public static void write(Path file, Map<String, StoredTensor> tensors, Map<String, String> metadata)
            throws CheckpointException {
        List<Entry> entries = new ArrayList<>(tensors.size());
        long offset = 0;
        for (Map.Entry<String, StoredTensor> t : tensors.entrySet()) {
            String name = t.getKey();
            StoredTensor value = t.getValue();
            if (name == null || name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("SafeTensors.write: tensor name " + name + " is not allowed");
            }
            if (value == null) throw new IllegalArgumentException("SafeTensors.write: tensor '" + name + "' is null");
            long bytes = (long) value.numel() * value.dtype().itemSize();
            entries.add(new Entry(name, value.dtype(), value.shape(), offset, offset + bytes));
            offset += bytes;
        }
        for (Map.Entry<String, String> m : metadata.entrySet()) {
            if (m.getKey() == null || m.getValue() == null) {
                throw new IllegalArgumentException("SafeTensors.write: metadata " + m.getKey() + " = " + m.getValue()
                        + " has a null");
            }
        }
        byte[] header = header(entries, metadata);
        try {
            AtomicFiles.write(file, ch -> {
                ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                buf.putLong(header.length);
                writeAll(ch, buf.flip());
                writeAll(ch, ByteBuffer.wrap(header));
                for (StoredTensor t : tensors.values()) {
                    buf.clear();
                    for (int i = 0, n = t.numel(); i < n; i++) {
                        if (buf.remaining() < 8) writeAll(ch, buf.flip()).clear();
                        Elements.write(t, i, buf);
                    }
                    writeAll(ch, buf.flip());
                }
            });
        } catch (IOException e) {
            throw CheckpointException.at(file, "cannot write: " + e, e);
        }
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes as the reference writer pads it. */
    private static byte[] header(List<Entry> entries, Map<String, String> metadata) {
        StringWriter text = new StringWriter();
        try (JsonWriter json = new JsonWriter(text)) {
            json.beginObject();
            if (!metadata.isEmpty()) {
                json.name(METADATA_KEY).beginObject();
                for (Map.Entry<String, String> m : metadata.entrySet()) json.name(m.getKey()).value(m.getValue());
                json.endObject();
            }
            for (Entry e : entries) {
                json.name(e.name()).beginObject();
                json.name("dtype").value(e.dtype().name());
                json.name("shape").beginArray();
                for (int d : e.shape()) json.value(d);
                json.endArray();
                json.name("data_offsets").beginArray().value(e.begin()).value(e.end()).endArray();
                json.endObject();
            }
            json.endObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON to a string failed", e); // StringWriter does not fail
        }
        byte[] utf8 = text.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (utf8.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(utf8, padded);
        Arrays.fill(out, utf8.length, padded, (byte) ' ');
        return out;
    }

    private static ByteBuffer writeAll(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
        return buf;
    }
}
