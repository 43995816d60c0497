package ai.crate.model.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Builds small torch.save-style archives in tests for the cases the Python fixtures do not cover: a pickle written
 * opcode by opcode (protocol 2, as torch.save writes it) and a zip of stored entries.
 */
final class TorchZips {
    private TorchZips() {}

    /** A protocol-2 pickle, written opcode by opcode. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle() { raw(0x80, 2); }

        Pickle raw(int... bytes) {
            for (int b : bytes) out.write(b);
            return this;
        }

        Pickle global(String module, String name) {
            out.writeBytes(("c" + module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
            return this;
        }

        Pickle str(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            out.write('X');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
            out.writeBytes(utf8);
            return this;
        }

        Pickle integer(int v) {
            out.write('J');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
            return this;
        }

        Pickle mark() { return raw('('); }

        Pickle tuple() { return raw('t'); }

        Pickle reduce() { return raw('R'); }

        /** An empty collections.OrderedDict(), as torch pickles one. */
        Pickle orderedDict() { return global("collections", "OrderedDict").raw(')').reduce(); }

        /**
         * {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())} on F32 storage {@code key} of
         * {@code numel} elements.
         */
        Pickle tensor(String key, int numel, int offset, int[] size, int[] stride) {
            global("torch._utils", "_rebuild_tensor_v2").mark();
            mark().str("storage").global("torch", "FloatStorage").str(key).str("cpu").integer(numel).tuple()
                    .raw('Q'); // BINPERSID
            integer(offset);
            mark();
            for (int s : size) integer(s);
            tuple().mark();
            for (int s : stride) integer(s);
            tuple().raw(0x89); // NEWFALSE: requires_grad
            orderedDict();
            return tuple().reduce();
        }

        byte[] stop() {
            out.write('.');
            return out.toByteArray();
        }
    }

    /** A zip of stored (uncompressed) entries, as torch.save writes them, in map order. */
    static Path zip(Path file, Map<String, byte[]> entries) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                entry.setMethod(ZipEntry.STORED);
                entry.setSize(e.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                entry.setCrc(crc.getValue());
                zip.putNextEntry(entry);
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return file;
    }

    /** Little-endian float32 bytes. */
    static byte[] f32(float... values) {
        ByteBuffer buf = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) buf.putFloat(v);
        return buf.array();
    }
}
