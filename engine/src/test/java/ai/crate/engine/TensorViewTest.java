package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Tensor views: shared storage, contiguity, reshape resolution, and errors that name the shapes involved. */
class TensorViewTest {
    private final Backend be = new ReferenceBackend();

    private Tensor iota(int... shape) {
        float[] d = new float[(int) Shapes.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = i;
        return be.fromArray(d, shape);
    }

    private static float[] f(double... v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) v[i];
        return out;
    }

    /** Overwrites every element of {@code base} with {@code 100 + i} through the backend. */
    private void overwrite(Tensor base) {
        float[] d = new float[(int) base.size()];
        for (int i = 0; i < d.length; i++) d[i] = 100 + i;
        be.copy(be.fromArray(d, base.shape()), base);
    }

    @Test
    void permuteReordersDimensionsWithoutCopying() {
        Tensor t = iota(2, 3, 4);
        Tensor p = t.permute(2, 0, 1);
        assertSame(t.storage(), p.storage());
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        float[] v = p.toFloatArray();
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++) assertEquals(i * 12 + j * 4 + k, v[(k * 2 + i) * 3 + j], "p[" + k + "," + i + "," + j + "]");
        assertArrayEquals(t.toFloatArray(), p.permute(1, 2, 0).toFloatArray(), "the inverse permutation restores it");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> t.permute(0, 0, 1));
        assertTrue(e.getMessage().contains("repeats axis 0"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> t.permute(1, 0));
        assertTrue(e.getMessage().contains("[2, 3, 4]"), e.getMessage());
    }

    @Test
    void viewsShareStorage() {
        Tensor t = iota(3, 4);
        Tensor r = t.reshape(2, 6), tr = t.transpose(), sl = t.slice(1, 1, 3), sel = t.select(2);
        for (Tensor v : new Tensor[] {r, tr, sl, sel}) assertSame(t.storage(), v.storage(), "view " + v + " copied");
        overwrite(t);
        assertArrayEquals(f(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111), r.toFloatArray());
        assertArrayEquals(f(100, 104, 108, 101, 105, 109, 102, 106, 110, 103, 107, 111), tr.toFloatArray());
        assertArrayEquals(f(101, 102, 105, 106, 109, 110), sl.toFloatArray());
        assertArrayEquals(f(108, 109, 110, 111), sel.toFloatArray());
        // writing through a view shows in the base
        be.copy(be.fromArray(f(-1, -2, -3), 3), t.transpose().select(3));
        assertArrayEquals(f(100, 101, 102, -1, 104, 105, 106, -2, 108, 109, 110, -3), t.toFloatArray());
        be.fill(t.select(1), 0.5f);
        assertArrayEquals(f(100, 101, 102, -1, 0.5, 0.5, 0.5, 0.5, 108, 109, 110, -3), t.toFloatArray());
    }

    @Test
    void viewGeometry() {
        Tensor t = iota(2, 3, 4);
        assertArrayEquals(new int[] {12, 4, 1}, t.strides());
        Tensor tr = t.transpose(0, 2);
        assertArrayEquals(new int[] {4, 3, 2}, tr.shape());
        assertArrayEquals(new int[] {1, 4, 12}, tr.strides());
        Tensor sl = t.slice(-1, 1, 3);
        assertArrayEquals(new int[] {2, 3, 2}, sl.shape());
        assertEquals(1, sl.offset());
        Tensor sel = t.select(1);
        assertArrayEquals(new int[] {3, 4}, sel.shape());
        assertEquals(12, sel.offset());
        assertEquals(4, t.dim(-1));
        assertEquals(3, t.dim(1));
        assertEquals(4, t.stride(-2));
        assertEquals(24, t.size());
        assertEquals(3, t.rank());
        assertEquals(23f, t.select(1).select(2).slice(0, 3, 4).item());
    }

    @Test
    void isContiguousOnVariousViews() {
        Tensor t = iota(3, 4);
        assertTrue(t.isContiguous());
        assertFalse(t.transpose().isContiguous());
        assertTrue(t.slice(0, 1, 3).isContiguous(), "a range of rows");
        assertFalse(t.slice(1, 1, 3).isContiguous(), "a range of columns");
        assertTrue(t.slice(1, 0, 4).isContiguous(), "all columns");
        assertTrue(t.select(1).isContiguous());
        assertTrue(t.slice(0, 1, 2).slice(1, 1, 3).isContiguous(), "part of one row");
        assertFalse(t.transpose().select(1).isContiguous(), "a column");
        assertTrue(iota(1, 4).transpose().isContiguous(), "size-1 dims have no stride constraint");
        assertTrue(iota(4, 1).transpose().isContiguous());
        assertFalse(iota(2, 3, 4).transpose(0, 1).isContiguous());
        // [2,1,4] → transpose(0,1) → [1,2,4] strides (4,4,1): dense
        assertTrue(iota(2, 1, 4).transpose(0, 1).isContiguous());
    }

    @Test
    void contiguousCopiesOnlyWhenNeeded() {
        Tensor t = iota(3, 4);
        assertSame(t, t.contiguous());
        Tensor rows = t.slice(0, 1, 3);
        assertSame(rows, rows.contiguous(), "contiguous view at an offset is not copied");
        Tensor tr = t.transpose();
        Tensor c = tr.contiguous();
        assertNotSame(tr, c);
        assertNotSame(t.storage(), c.storage());
        assertTrue(c.isContiguous());
        assertArrayEquals(tr.toFloatArray(), c.toFloatArray());
        overwrite(t);                                   // the copy does not follow its source any more
        assertArrayEquals(f(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11), c.toFloatArray());
        // reshape of a non-contiguous view copies first, so it no longer shares storage
        Tensor rt = tr.reshape(12);
        assertNotSame(t.storage(), rt.storage());
        assertArrayEquals(f(100, 104, 108, 101, 105, 109, 102, 106, 110, 103, 107, 111), rt.toFloatArray());
    }

    @Test
    void reshapeResolvesMinusOne() {
        Tensor t = iota(3, 4);
        assertArrayEquals(new int[] {12}, t.reshape(-1).shape());
        assertArrayEquals(new int[] {2, 6}, t.reshape(2, -1).shape());
        assertArrayEquals(new int[] {4, 3}, t.reshape(-1, 3).shape());
        assertArrayEquals(new int[] {1, 12, 1}, t.reshape(1, -1, 1).shape());
        assertArrayEquals(new int[] {2, 2, 3}, t.reshape(2, 2, -1).shape());
        assertArrayEquals(new int[] {0, 5}, iota(0, 3).reshape(0, 5).shape());
        Tensor rows = t.slice(0, 1, 3).reshape(-1);         // a view at an offset stays a view
        assertSame(t.storage(), rows.storage());
        assertArrayEquals(f(4, 5, 6, 7, 8, 9, 10, 11), rows.toFloatArray());
    }

    @Test
    void badReshapesNameTheShapes() {
        Tensor t = iota(3, 4);
        BackendContractTest.assertRejects(() -> t.reshape(5), "reshape", "[3, 4]", "[5]");
        BackendContractTest.assertRejects(() -> t.reshape(5, -1), "reshape", "[3, 4]", "[5, -1]");
        BackendContractTest.assertRejects(() -> t.reshape(-1, -1), "reshape", "[-1, -1]");
        BackendContractTest.assertRejects(() -> t.reshape(-2, 6), "reshape", "[-2, 6]");
        BackendContractTest.assertRejects(() -> t.reshape(0, -1), "reshape", "[3, 4]", "[0, -1]");
        BackendContractTest.assertRejects(() -> be.fromArray(new float[5], 2, 3), "fromArray", "[2, 3]");
    }

    @Test
    void badSlicesAndSelectsNameTheShape() {
        Tensor t = iota(3, 4);
        BackendContractTest.assertRejects(() -> t.slice(1, 2, 5), "slice", "[2, 5)", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.slice(0, -1, 2), "slice", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.slice(0, 2, 1), "slice", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.select(3), "select", "3", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.select(-1), "select", "[3, 4]");
        BackendContractTest.assertRejects(() -> iota(3).transpose(), "transpose", "[3]");
        BackendContractTest.assertRejects(() -> t.item(), "item", "[3, 4]");
        BackendContractTest.assertRejects(
                () -> new Tensor(be, new float[6], new int[] {2, 3}, new int[] {3}, 0), "[2, 3]", "[3]");
    }

    /** A bad axis names the op, the axis, and the shape it was applied to. */
    @Test
    void badAxesNameTheShape() {
        Tensor t = iota(3, 4);
        BackendContractTest.assertRejects(() -> t.slice(2, 0, 1), "slice", "axis 2", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.transpose(0, -3), "transpose", "axis -3", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.dim(2), "dim", "axis 2", "[3, 4]");
        BackendContractTest.assertRejects(() -> t.stride(-3), "stride", "axis -3", "[3, 4]");
    }

    @Test
    void toMovesBetweenBackendInstances() {
        Backend other = new ReferenceBackend();
        Tensor t = iota(3, 4).transpose();
        Tensor moved = t.to(other);
        assertSame(other, moved.backend());
        assertTrue(moved.isContiguous());
        assertArrayEquals(t.toFloatArray(), moved.toFloatArray());
        assertArrayEquals(new int[] {4, 3}, moved.shape());
        assertEquals("Tensor[4, 3]@reference", moved.toString());
    }
}
