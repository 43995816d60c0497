package ai.crate.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** MSSA's softmax down the columns of its symmetric scores is the row softmax, transposed, to the bit. */
class ColumnSoftmaxTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 15, 16, 17, 50, 63, 65, 197})
    void isTheRowSoftmaxTransposedBitForBit(int n) {
        for (int ld : new int[] {n, SimdRows.wholeVectors(n)}) {   // packed rows, and rows padded to whole vectors
            SplittableRandom r = new SplittableRandom(n);
            float[] s = new float[n * ld + 7];   // an offset and a tail that must stay untouched
            for (int i = 0; i < n; i++) {
                for (int j = 0; j <= i; j++) {
                    float v = (float) (r.nextGaussian() * 4);
                    s[3 + i * ld + j] = v;
                    s[3 + j * ld + i] = v;
                }
                for (int j = n; j < ld; j++) s[3 + i * ld + j] = (float) r.nextGaussian();   // padding: any value
            }
            s[0] = 11f;
            s[n * ld + 3] = 13f;
            float[] rows = s.clone(), columns = s.clone();
            for (int i = 0; i < n; i++) SimdRows.softmaxRow(rows, 3 + i * ld, rows, 3 + i * ld, n);
            SimdRows.softmaxColumnsOfSymmetric(columns, 3, n, ld, new float[SimdRows.COLUMN_PARTIALS]);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    assertEquals(Float.floatToRawIntBits(rows[3 + i * ld + j]),
                            Float.floatToRawIntBits(columns[3 + j * ld + i]), "n " + n + ", ld " + ld + ": A[" + i
                                    + "][" + j + "]");
                }
            }
            assertEquals(11f, columns[0]);
            assertEquals(13f, columns[n * ld + 3]);
        }
    }
}
