package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
