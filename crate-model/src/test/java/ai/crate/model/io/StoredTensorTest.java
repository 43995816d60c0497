package ai.crate.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** StoredTensor's factories, invariants and errors; TensorFile's ordering. */
class StoredTensorTest {
    @Test
    void factoriesValidateTheElementCount() {
        assertEquals("shape [2, 3] does not hold 5 elements", assertThrows(IllegalArgumentException.class,
                () -> StoredTensor.f32(new int[] {2, 3}, new float[5])).getMessage());
        assertEquals("shape [4] does not hold 3 elements", assertThrows(IllegalArgumentException.class,
                () -> StoredTensor.i64(new int[] {4}, new long[3])).getMessage());
        assertThrows(IllegalArgumentException.class, () -> StoredTensor.f32(new int[] {-1}, new float[0]));
        assertThrows(IllegalArgumentException.class,
                () -> StoredTensor.f32(new int[] {65536, 65536}, new float[0])); // 2^32 elements, no overflow to 0
        assertEquals(1, StoredTensor.f32(new int[] {}, new float[] {4.5f}).numel());
        assertEquals(0, StoredTensor.f32(new int[] {5, 0}, new float[0]).numel());
    }

    @Test
    void askingForTheWrongKindOfDataNamesTheDtype() {
        StoredTensor ints = StoredTensor.i64(new int[] {1}, new long[] {3});
        StoredTensor floats = StoredTensor.ofFloats(DType.BF16, new int[] {1}, new float[] {3});
        assertEquals("floats(): tensor has integer dtype I64; use longs()",
                assertThrows(IllegalStateException.class, ints::floats).getMessage());
        assertEquals("longs(): tensor has floating dtype BF16; use floats()",
                assertThrows(IllegalStateException.class, floats::longs).getMessage());
    }

    @Test
    void integersMustFitTheirDtype() {
        assertEquals("ofLongs: element 1 = 128 does not fit I8 [-128, 127]", assertThrows(
                IllegalArgumentException.class, () -> StoredTensor.ofLongs(DType.I8, new int[] {2}, new long[] {1, 128}))
                .getMessage());
        assertThrows(IllegalArgumentException.class, () -> StoredTensor.ofLongs(DType.BOOL, new int[] {1},
                new long[] {2}));
        assertThrows(IllegalArgumentException.class, () -> StoredTensor.ofLongs(DType.F32, new int[] {1},
                new long[] {2}));
        assertThrows(IllegalArgumentException.class, () -> StoredTensor.ofFloats(DType.I32, new int[] {1},
                new float[] {2}));
    }

    @Test
    void halfPrecisionFactoriesRoundToNearestEven() {
        float[] in = {1f / 3, 1 + 0x1p-8f, 1 + 3 * 0x1p-8f, 70000f, Float.NaN};
        float[] f16 = StoredTensor.ofFloats(DType.F16, new int[] {5}, in).floats();
        // F16 holds 1 + 2^-8 exactly; 70000 is past its largest finite value, 65504.
        assertArrayEquals(new float[] {0x1.554p-2f, 1 + 0x1p-8f, 1 + 3 * 0x1p-8f, Float.POSITIVE_INFINITY, Float.NaN},
                f16);
        float[] bf16 = StoredTensor.ofFloats(DType.BF16, new int[] {5}, in).floats();
        // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa, 1.0; 1 + 3·2^-8 goes up.
        assertArrayEquals(new float[] {0x1.56p-2f, 1f, 1 + 4 * 0x1p-8f, 70144f, Float.NaN}, bf16);
    }

    @Test
    void dataIsCopiedInAndOut() {
        float[] data = {1.5f, -2.5f};
        int[] shape = {2};
        StoredTensor t = StoredTensor.f32(shape, data);
        data[0] = 99;
        shape[0] = 7;
        t.floats()[1] = 99;
        t.shape()[0] = 7;
        assertArrayEquals(new float[] {1.5f, -2.5f}, t.floats());
        assertArrayEquals(new int[] {2}, t.shape());
    }

    @Test
    void equalityIsByDtypeShapeAndData() {
        StoredTensor a = StoredTensor.f32(new int[] {2}, new float[] {1, 2});
        assertEquals(a, StoredTensor.f32(new int[] {2}, new float[] {1, 2}));
        assertEquals(a.hashCode(), StoredTensor.f32(new int[] {2}, new float[] {1, 2}).hashCode());
        assertNotEquals(a, StoredTensor.f32(new int[] {1, 2}, new float[] {1, 2}));
        assertNotEquals(a, StoredTensor.ofFloats(DType.F16, new int[] {2}, new float[] {1, 2}));
        assertEquals("StoredTensor[F32 [2]]", a.toString());
    }

    @Test
    void tensorFileKeepsOrderAndIsUnmodifiable() {
        Map<String, StoredTensor> m = new LinkedHashMap<>();
        for (String k : List.of("z", "a", "m")) m.put(k, StoredTensor.f32(new int[] {1}, new float[] {k.charAt(0)}));
        TensorFile f = new TensorFile(java.nio.file.Path.of("x"), m, Map.of());
        m.clear();
        assertEquals(List.of("z", "a", "m"), List.copyOf(f.tensors().keySet()));
        assertThrows(UnsupportedOperationException.class, () -> f.tensors().remove("z"));
    }
}
