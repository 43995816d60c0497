package ai.crate.model.io;

import ai.crate.model.io.TorchUnpickler.StorageRef;
import ai.crate.model.io.TorchUnpickler.TensorRef;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads files written by PyTorch's {@code torch.save} in the zip format of PyTorch 1.6 and later: an archive with
 * {@code <prefix>/data.pkl} (the pickled object), {@code <prefix>/data/<key>} (one entry per storage) and
 * {@code <prefix>/version}, maybe {@code <prefix>/byteorder}.
 *
 * <p>Two shapes of saved object are understood: a state_dict (name to tensor), and a training checkpoint dict such as
 * {@code {'epoch': 10, 'arch': 'CRATE_small', 'state_dict': {...}, 'best_acc1': ..., 'optimizer': {...}}}, whose
 * tensors come from {@code 'state_dict'} (or {@code 'model'}) and whose scalar fields become metadata strings
 * (optimizer and scheduler state are skipped). A leading {@code module.} (from DataParallel) is stripped from every
 * key. Tensors saved as views (transposed, sliced, offset into a shared storage) are materialised row-major.
 *
 * <p>The pickle is read by a restricted unpickler that calls nothing from the file (see {@link TorchUnpickler}):
 * a file naming any global beyond the few a state_dict needs, e.g. {@code os.system}, is refused.
 */
public final class TorchCheckpoints {
    /** data.pkl holds structure, not tensor data; real ones are kilobytes. Larger ones are refused unread. */
    static final long MAX_PICKLE_BYTES = 256L << 20;

    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    private static final int PICKLE_PROTO = 0x80;

    private TorchCheckpoints() {}

    /** Reads the tensors (and, for a training checkpoint, the scalar fields as metadata) of {@code file}. */
    public static TensorFile read(Path file) throws CheckpointException {
        checkMagic(file);
        try (ZipFile zip = new ZipFile(file.toFile())) {
            return new Archive(file, zip).read();
        } catch (CheckpointException e) {
            throw e;
        } catch (ZipException e) {
            throw CheckpointException.at(file, "truncated or corrupt zip archive (" + e.getMessage() + ")", e);
        } catch (IOException | RuntimeException e) {
            throw CheckpointException.at(file, "cannot read: " + e, e);
        }
    }

    /** Tells the legacy (pre-1.6) format and non-checkpoints apart from a zip before the zip reader sees them. */
    private static void checkMagic(Path file) throws CheckpointException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(4);
        } catch (IOException e) {
            throw CheckpointException.at(file, "cannot read: " + e, e);
        }
        if (Arrays.equals(head, ZIP_MAGIC)) return;
        if (head.length >= 2 && (head[0] & 0xFF) == PICKLE_PROTO) {
            throw CheckpointException.at(file, "legacy torch.save format (PyTorch < 1.6, or "
                    + "_use_new_zipfile_serialization=False) is not supported; re-save it with torch >= 1.6: "
                    + "torch.save(torch.load(path), path)");
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : head) hex.append(String.format(" %02x", b & 0xFF));
        throw CheckpointException.at(file, "not a torch.save zip archive (" + head.length + " leading bytes:"
                + hex + ")");
    }

    /** One open archive: its entry prefix, byte order and storages read so far. */
    private static final class Archive {
        private final Path file;
        private final ZipFile zip;
        private final String prefix; // "archive/" or the saved file's base name, with the slash
        private final ByteOrder order;
        private final Map<String, ByteBuffer> storages = new HashMap<>();
        /**
         * Elements still allowed to be materialised. Views can show one storage many times (tied weights, stride-0
         * broadcasts, thousands of keys on one storage in a crafted file) and each key gets its own copy, so the
         * total is capped in proportion to the file's size: memory stays bounded by the file, not by its pickle.
         */
        private final long elementLimit;
        private long elementBudget;

        Archive(Path file, ZipFile zip) throws IOException {
            this.file = file;
            this.zip = zip;
            this.prefix = findPrefix();
            this.order = byteOrder();
            this.elementLimit = 4 * Files.size(file) + (1L << 24);
            this.elementBudget = elementLimit;
        }

        private String findPrefix() throws CheckpointException {
            List<String> pickles = new ArrayList<>();
            boolean torchScript = false;
            for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
                String name = e.nextElement().getName();
                int slash = name.indexOf('/');
                if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) pickles.add(name);
                if (slash > 0 && name.substring(slash + 1).startsWith("constants.pkl")) torchScript = true;
            }
            if (pickles.size() == 1) return pickles.get(0).substring(0, pickles.get(0).indexOf('/') + 1);
            if (pickles.isEmpty()) {
                throw CheckpointException.at(file, torchScript
                        ? "a TorchScript archive (torch.jit.save), not torch.save: save model.state_dict() instead"
                        : "zip archive has no <prefix>/data.pkl entry, so it was not written by torch.save");
            }
            throw CheckpointException.at(file, "zip archive has " + pickles.size() + " data.pkl entries " + pickles);
        }

        private ByteOrder byteOrder() throws IOException {
            ZipEntry entry = zip.getEntry(prefix + "byteorder");
            if (entry == null) return ByteOrder.LITTLE_ENDIAN; // written only since PyTorch 2.1; before, always little
            String text = new String(readEntry(entry, 16, "byteorder"), StandardCharsets.US_ASCII).trim();
            return switch (text) {
                case "little" -> ByteOrder.LITTLE_ENDIAN;
                case "big" -> ByteOrder.BIG_ENDIAN;
                default -> throw CheckpointException.at(file, "entry '" + entry.getName() + "' says '" + text
                        + "', not 'little' or 'big'");
            };
        }

        TensorFile read() throws IOException {
            String pickleName = prefix + "data.pkl";
            byte[] pickle = readEntry(zip.getEntry(pickleName), MAX_PICKLE_BYTES, "data.pkl");
            Object root = TorchUnpickler.load(file, pickleName, pickle);
            if (!(root instanceof Map<?, ?> top)) {
                throw CheckpointException.at(file, "saved object is " + kind(root) + ", not a dict of tensors");
            }
            Object container = null;
            String containerKey = null;
            for (String key : List.of("state_dict", "model")) {
                if (top.get(key) instanceof Map<?, ?> m) {
                    container = m;
                    containerKey = key;
                    break;
                }
            }
            Map<String, String> metadata = new LinkedHashMap<>();
            if (container == null) {
                // A plain state_dict: every value is a tensor.
                for (Map.Entry<?, ?> e : top.entrySet()) {
                    if (!(e.getValue() instanceof TensorRef)) {
                        throw CheckpointException.at(file, "saved dict has no 'state_dict' or 'model' dict and is "
                                + "not a state_dict either: entry " + describeKey(e.getKey()) + " is "
                                + kind(e.getValue()) + " (keys: " + top.keySet() + ")");
                    }
                }
                return new TensorFile(file, tensors(top, "state_dict"), metadata);
            }
            for (Map.Entry<?, ?> e : top.entrySet()) {
                if (e.getKey() instanceof String key && !key.equals(containerKey)) {
                    String value = scalarText(key, e.getValue());
                    if (value != null) metadata.put(key, value);
                }
            }
            return new TensorFile(file, tensors((Map<?, ?>) container, "'" + containerKey + "'"), metadata);
        }

        /** The tensors of a state_dict, {@code module.} stripped, in the dict's order. */
        private Map<String, StoredTensor> tensors(Map<?, ?> dict, String what) throws IOException {
            Map<String, StoredTensor> out = new LinkedHashMap<>();
            Map<String, String> originalKey = new HashMap<>();
            for (Map.Entry<?, ?> e : dict.entrySet()) {
                if (!(e.getKey() instanceof String key)) {
                    throw CheckpointException.at(file, what + " has key " + describeKey(e.getKey())
                            + ", not a string");
                }
                if (!(e.getValue() instanceof TensorRef ref)) {
                    throw CheckpointException.at(file, what + " entry '" + key + "' is " + kind(e.getValue())
                            + ", not a tensor");
                }
                String name = key.startsWith("module.") ? key.substring("module.".length()) : key;
                String clash = originalKey.putIfAbsent(name, key);
                if (clash != null) {
                    throw CheckpointException.at(file, what + " keys '" + clash + "' and '" + key + "' are both '"
                            + name + "' once the DataParallel prefix 'module.' is stripped");
                }
                out.put(name, materialise(key, ref));
            }
            return out;
        }

        /** A training checkpoint's scalar field as text, or null for anything else (dicts, lists, None). */
        private String scalarText(String key, Object value) throws IOException {
            return switch (value) {
                case String s -> s;
                case Boolean b -> b ? "True" : "False"; // as Python prints them
                case Integer i -> i.toString();
                case Long l -> l.toString();
                case BigInteger b -> b.toString();
                case Double d -> d.toString();
                case TensorRef ref when numel(ref.size()) == 1 -> {
                    StoredTensor t = materialise(key, ref);
                    yield t.dtype().isFloating() ? Float.toString(t.floats()[0]) : Long.toString(t.longs()[0]);
                }
                case null, default -> null;
            };
        }

        /** The tensor {@code ref} describes, copied row-major out of its storage. */
        private StoredTensor materialise(String key, TensorRef ref) throws IOException {
            StorageRef storage = ref.storage();
            DType dtype = storage.dtype();
            String where = "tensor '" + key + "' (storage '" + storage.key() + "', " + dtype + "[" + storage.numel()
                    + "])";
            int[] size = ref.size();
            long[] stride = ref.stride();
            long numel = numel(size);
            if (numel > Integer.MAX_VALUE - 8) {
                throw CheckpointException.at(file, where + ": shape " + Arrays.toString(size)
                        + " has more elements than one Java array holds");
            }
            // The last element's index bounds every other; strides and offset are never negative in PyTorch.
            long last = ref.offset();
            if (last < 0) throw CheckpointException.at(file, where + ": negative storage offset " + last);
            for (int i = 0; i < size.length; i++) {
                if (stride[i] < 0) {
                    throw CheckpointException.at(file, where + ": negative stride " + Arrays.toString(stride));
                }
                if (numel > 0) last = addExact(last, multiplyExact(size[i] - 1L, stride[i], where), where);
            }
            if (numel > 0 && last >= storage.numel()) {
                throw CheckpointException.at(file, where + ": shape " + Arrays.toString(size) + ", stride "
                        + Arrays.toString(stride) + ", offset " + ref.offset() + " reach element " + last
                        + ", past the storage's " + storage.numel() + " elements");
            }
            elementBudget -= numel;
            if (elementBudget < 0) {
                throw CheckpointException.at(file, where + ": materialising shape " + Arrays.toString(size)
                        + " would exceed the file's limit of " + elementLimit + " elements in all (4 per byte of the "
                        + "file plus 2^24; every key gets its own copy of what its view shows)");
            }
            ByteBuffer bytes = numel == 0 ? ByteBuffer.allocate(0) : storageBytes(storage, where);

            int n = (int) numel;
            float[] floats = dtype.isFloating() ? new float[n] : null;
            long[] longs = floats == null ? new long[n] : null;
            // Walk the index row-major, carrying like an odometer; element positions fit an int (checked above).
            int[] index = new int[size.length];
            long position = ref.offset();
            for (int i = 0; i < n; i++) {
                if (floats != null) floats[i] = Elements.floatAt(bytes, dtype, (int) position);
                else longs[i] = Elements.longAt(bytes, dtype, (int) position);
                for (int d = size.length - 1; d >= 0; d--) {
                    position += stride[d];
                    if (++index[d] < size[d]) break;
                    position -= stride[d] * size[d];
                    index[d] = 0;
                }
            }
            return floats != null ? StoredTensor.wrapFloats(dtype, size, floats)
                    : StoredTensor.wrapLongs(dtype, size, longs);
        }

        /** The bytes of storage entry {@code data/<key>}, read once and shared by every tensor viewing it. */
        private ByteBuffer storageBytes(StorageRef storage, String where) throws IOException {
            ByteBuffer cached = storages.get(storage.key());
            if (cached != null) return cached;
            String name = prefix + "data/" + storage.key();
            ZipEntry entry = zip.getEntry(name);
            if (entry == null) {
                throw CheckpointException.at(file, where + ": storage entry '" + name + "' is missing");
            }
            long needed = multiplyExact(storage.numel(), storage.dtype().itemSize(), where);
            if (needed > Integer.MAX_VALUE - 8) {
                throw CheckpointException.at(file, where + ": storage of " + needed + " bytes is larger than 2 GB");
            }
            if (entry.getSize() >= 0 && entry.getSize() < needed) {
                throw CheckpointException.at(file, where + ": storage entry '" + name + "' holds " + entry.getSize()
                        + " bytes, the storage needs " + needed);
            }
            byte[] data;
            try (InputStream in = zip.getInputStream(entry)) {
                data = in.readNBytes((int) needed);
            } catch (ZipException e) {
                throw CheckpointException.at(file, where + ": storage entry '" + name + "' is corrupt ("
                        + e.getMessage() + ")", e);
            }
            if (data.length < needed) {
                throw CheckpointException.at(file, where + ": storage entry '" + name + "' ends after " + data.length
                        + " of " + needed + " bytes");
            }
            ByteBuffer buf = ByteBuffer.wrap(data).order(order);
            storages.put(storage.key(), buf);
            return buf;
        }

        /** All of a small entry, refusing before allocation when its declared size is over {@code limit}. */
        private byte[] readEntry(ZipEntry entry, long limit, String what) throws IOException {
            long size = entry.getSize();
            if (size > limit) {
                throw CheckpointException.at(file, "entry '" + entry.getName() + "' of " + size + " bytes is over the "
                        + limit + "-byte limit for " + what);
            }
            try (InputStream in = zip.getInputStream(entry)) {
                byte[] data = in.readNBytes((int) (size >= 0 ? size : limit));
                if (size >= 0 && data.length != size) {
                    throw CheckpointException.at(file, "entry '" + entry.getName() + "' ends after " + data.length
                            + " of " + size + " bytes");
                }
                return data;
            }
        }

        private long multiplyExact(long a, long b, String where) throws CheckpointException {
            try {
                return Math.multiplyExact(a, b);
            } catch (ArithmeticException e) {
                throw CheckpointException.at(file, where + ": size " + a + " × " + b + " overflows");
            }
        }

        private long addExact(long a, long b, String where) throws CheckpointException {
            try {
                return Math.addExact(a, b);
            } catch (ArithmeticException e) {
                throw CheckpointException.at(file, where + ": offset " + a + " + " + b + " overflows");
            }
        }
    }

    /** The product of {@code size}; Long.MAX_VALUE stands for anything past 2^31 (too many either way). */
    private static long numel(int[] size) {
        long n = 1;
        for (int d : size) {
            if (d == 0) return 0;
            if (n <= Integer.MAX_VALUE) n *= d; // stays below 2^62
        }
        return n > Integer.MAX_VALUE ? Long.MAX_VALUE : n;
    }

    private static String describeKey(Object key) {
        return key instanceof String s ? "'" + s + "'" : String.valueOf(key);
    }

    /** What a pickled value is, in Python's words. */
    private static String kind(Object value) {
        if (value == null) return "None";
        if (value instanceof TensorRef) return "a tensor";
        if (value instanceof Map) return "a dict";
        if (value instanceof List) return "a list";
        if (value instanceof Object[]) return "a tuple";
        if (value instanceof Integer || value instanceof Long || value instanceof BigInteger) return "an int";
        if (value instanceof Double) return "a float";
        if (value instanceof String) return "a str";
        if (value instanceof Boolean) return "a bool";
        return "a " + value.getClass().getSimpleName();
    }
}
