package ai.crate.cuda;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.cuda.emu.EmulatedDevice;
import ai.crate.engine.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Device memory of {@link CudaBackend} (on the emulated device): released storage is reused as it is, empty() is
 * zero even when reused, a double release is refused, and tensors dropped without a release come back through the
 * garbage collector — device memory is not Java heap, so nothing else would ever free it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaMemoryTest {
    private final CudaBackend be = new CudaBackend(new EmulatedDevice());

    @AfterAll
    void close() { be.close(); }

    private static DeviceMemory memory(Tensor t) { return ((CudaBackend.Storage) t.storage()).memory(); }

    @Test
    void releasedStorageIsReusedForTheSameLengthAndEmptyZeroesIt() {
        Tensor a = be.allocate(3, 4);
        be.fill(a, 7f);
        DeviceMemory m = memory(a);
        be.release(a.transpose());                  // any view releases the whole storage
        Tensor b = be.allocate(2, 6);
        assertSame(m, memory(b), "same length: the released memory comes back");
        assertNotSame(m, memory(be.allocate(2, 6)), "handed out once only");
        be.release(b);
        Tensor z = be.empty(12);
        assertSame(m, memory(z));
        for (float v : z.toFloatArray()) assertTrue(v == 0f, "empty must be zero-filled, got " + v);
    }

    @Test
    void releasingTwiceIsRefused() {
        Tensor a = be.allocate(4);
        be.release(a);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.release(a.reshape(2, 2)));
        assertTrue(e.getMessage().contains("already released"), e.getMessage());
    }

    @Test
    void droppedTensorsComeBackThroughTheCollector() throws InterruptedException {
        long before = be.reclaimedByCollector();
        for (int i = 0; i < 50; i++) be.fill(be.allocate(1000 + i), 1f);   // never released, references dropped
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (be.reclaimedByCollector() == before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
            be.release(be.allocate(7));              // an allocation is where unreachable memory is taken back
        }
        assertTrue(be.reclaimedByCollector() > before, "no dropped tensor came back within 20 s of collections");
        Tensor again = be.allocate(1000);            // served from what came back, not from the device
        be.fill(again, 2f);
        assertTrue(again.toFloatArray()[999] == 2f);
    }
}
