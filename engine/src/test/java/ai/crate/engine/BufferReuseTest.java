package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** CPU backends hand released arrays back out: allocate reuses them as they are, empty zero-fills them. */
class BufferReuseTest {
    private final Backend be = new ReferenceBackend();

    @Test
    void releasedStorageIsReusedForTheSameLength() {
        Tensor a = be.allocate(3, 4);
        be.fill(a, 7f);
        Object storage = a.storage();
        be.release(a.transpose());           // any view releases the whole storage
        Tensor b = be.allocate(2, 6);
        assertSame(storage, b.storage(), "same length: the released array comes back");
        Tensor c = be.allocate(2, 6);
        assertNotSame(storage, c.storage(), "handed out once only");
    }

    @Test
    void emptyIsZeroEvenWhenReused() {
        Tensor a = be.allocate(5);
        be.fill(a, 3f);
        be.release(a);
        Tensor z = be.empty(5);
        assertSame(a.storage(), z.storage());
        for (float v : z.toFloatArray()) assertTrue(v == 0f, "empty must be zero-filled");
    }

    @Test
    void releasingTwiceIsRefused() {
        Tensor a = be.allocate(4);
        be.release(a);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.release(a));
        assertTrue(e.getMessage().contains("already released"), e.getMessage());
    }

    /**
     * Pooled arrays never cost an allocation: in a JVM of 128 MB, 7/16 of the heap pooled (under the pool's half)
     * and then an array of 7/16 that only fits once they are gone — the pool is emptied rather than the heap run out.
     */
    @Test
    void aFullPoolGivesWayToAnAllocation() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xmx128m", "-XX:+UseSerialGC", "-cp",
                System.getProperty("java.class.path"), PoolPressure.class.getName()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("allocated"), out);
    }

    /** The child of {@link #aFullPoolGivesWayToAnAllocation}. */
    static final class PoolPressure {
        public static void main(String[] args) {
            Backend be = new ReferenceBackend();
            int chunk = (int) (Runtime.getRuntime().maxMemory() / 16 / Float.BYTES);
            List<Tensor> held = new ArrayList<>();
            for (int i = 0; i < 7; i++) held.add(be.allocate(chunk));
            for (Tensor t : held) be.release(t);
            held.clear();
            Tensor big = be.allocate(7 * chunk);
            System.out.println("allocated " + big.size() + " floats");
        }
    }
}
