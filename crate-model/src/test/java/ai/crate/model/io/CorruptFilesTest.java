package ai.crate.model.io;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both readers on many corrupted copies of valid files (random bytes overwritten, every truncation): each read either
 * succeeds or throws CheckpointException; never another exception, an error, or a hang.
 */
class CorruptFilesTest {
    private static final int MUTANTS = 400;

    @TempDir
    Path dir;

    @FunctionalInterface
    private interface Reader {
        TensorFile read(Path file) throws IOException;
    }

    private void readMustFailCleanly(Reader reader, Path file, String what) {
        try {
            reader.read(file);
        } catch (CheckpointException expected) {
            // the one allowed failure
        } catch (Throwable t) {
            fail(what + ": expected success or CheckpointException, got " + t, t);
        }
    }

    /** {@code MUTANTS} random corruptions, then truncations every {@code truncateStep} bytes and at the last 64. */
    private void mutateAndRead(byte[] original, String suffix, Reader reader, long seed, int truncateStep)
            throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path file = dir.resolve("mutant" + suffix);
        for (int m = 0; m < MUTANTS; m++) {
            byte[] bytes = original.clone();
            int changes = 1 + rnd.nextInt(4);
            StringBuilder what = new StringBuilder("mutant " + m + ":");
            for (int c = 0; c < changes; c++) {
                int at = rnd.nextInt(bytes.length);
                bytes[at] = (byte) rnd.nextInt(256);
                what.append(" byte ").append(at).append("=").append(bytes[at] & 0xFF);
            }
            Files.write(file, bytes);
            readMustFailCleanly(reader, file, what.toString());
        }
        for (int length = 0; length < original.length; length += length < original.length - 64 ? truncateStep : 1) {
            Files.write(file, java.util.Arrays.copyOf(original, length));
            readMustFailCleanly(reader, file, "truncated to " + length + " bytes");
        }
    }

    @Test
    void corruptSafetensors() throws IOException {
        Path valid = dir.resolve("valid.safetensors");
        SafeTensors.write(valid, Map.of("w", StoredTensor.f32(new int[] {2, 3}, new float[] {1, -2, 3, -4, 5, -6}),
                "n", StoredTensor.i64(new int[] {2}, new long[] {7, -8}),
                "h", StoredTensor.ofFloats(DType.BF16, new int[] {1}, new float[] {0.5f})), Map.of("epoch", "3"));
        mutateAndRead(Files.readAllBytes(valid), ".safetensors", SafeTensors::read, 1, 1);
    }

    @Test
    void corruptTorchArchives() throws IOException {
        byte[] checkpoint = Files.readAllBytes(TorchCheckpointsTest.fixture("checkpoint.pth.tar"));
        mutateAndRead(checkpoint, ".pth", TorchCheckpoints::read, 2, 13);
    }

    @Test
    void corruptPickleInsideAValidZip() throws IOException {
        // Random bytes in data.pkl itself (a zip reader does not check a stored entry's CRC on every path).
        byte[] pickle = new TorchZips.Pickle().orderedDict().raw('(').str("w")
                .tensor("0", 4, 0, new int[] {2, 2}, new int[] {1, 2}).raw('u').stop();
        SplittableRandom rnd = new SplittableRandom(3);
        for (int m = 0; m < MUTANTS; m++) {
            byte[] bytes = pickle.clone();
            int at = rnd.nextInt(bytes.length);
            bytes[at] = (byte) rnd.nextInt(256);
            Path file = TorchZips.zip(dir.resolve("pickle.pth"), Map.of("archive/data.pkl", bytes,
                    "archive/data/0", TorchZips.f32(1, 2, 3, 4)));
            readMustFailCleanly(TorchCheckpoints::read, file, "pickle byte " + at + "=" + (bytes[at] & 0xFF));
        }
    }
}
