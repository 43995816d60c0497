package ai.crate.autograd;

import static ai.crate.autograd.TestTensors.B;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.crate.engine.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

/** Forward values and shapes that a gradient check cannot see: what each op computes, and the max tie rule. */
class FunctionsForwardTest {

    private static Variable v(float[] values, int... shape) {
        return Variable.parameter(B.fromArray(values, shape));
    }

    @Test
    void linearIsXTimesWeightTransposedPlusBias() {
        Variable x = v(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Variable w = v(new float[] {1, 0, -1, 2, 1, 0}, 2, 3);
        Variable b = v(new float[] {10, 20}, 2);
        Variable y = F.linear(x, w, b);
        assertArrayEquals(new int[] {2, 2}, y.shape());
        assertArrayEquals(new float[] {1 - 3 + 10, 2 + 2 + 20, 4 - 6 + 10, 8 + 5 + 20}, y.value().toFloatArray());
    }

    @Test
    void reductionsKeepOrDropTheAxis() {
        Variable x = v(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertArrayEquals(new int[] {}, F.sum(x).shape());
        assertEquals(21f, F.sum(x).value().item());
        assertArrayEquals(new int[] {2, 1}, F.mean(x, 1, true).shape());
        assertArrayEquals(new float[] {2, 5}, F.mean(x, 1, true).value().toFloatArray());
        assertArrayEquals(new int[] {3}, F.sum(x, 0, false).shape());
        assertArrayEquals(new float[] {5, 7, 9}, F.sum(x, 0, false).value().toFloatArray());
    }

    @Test
    void maxSendsTheGradientToTheFirstOfTiedMaxima() {
        Variable x = v(new float[] {1, 3, 3, 2, 0, 0}, 2, 3);
        Variable m = F.max(x, 1, false);
        assertArrayEquals(new float[] {3, 2}, m.value().toFloatArray());
        m.backward(B.fromArray(new float[] {10, 20}, 2));
        assertArrayEquals(new float[] {0, 10, 0, 20, 0, 0}, x.grad().toFloatArray());
    }

    @Test
    void crossEntropyIsTheMeanNegativeLogLikelihood() {
        Variable logits = v(new float[] {0, 0, (float) Math.log(3), 0}, 2, 2);
        // row 0: uniform over 2 classes; row 1: p(class 0) = 3/4
        float expected = (float) ((Math.log(2) - Math.log(0.75)) / 2);
        assertEquals(expected, F.crossEntropy(logits, new int[] {1, 0}, 0f).value().item(), 1e-6f);
        assertArrayEquals(new int[] {}, F.crossEntropy(logits, new int[] {1, 0}, 0.1f).shape());
    }

    @Test
    void reshapeAndTransposeAreViews() {
        Tensor t = B.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Variable x = Variable.parameter(t);
        assertSame(t.storage(), F.reshape(x, 3, 2).value().storage());
        assertSame(t.storage(), F.transpose(x).value().storage());
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, F.transpose(x).value().toFloatArray());
    }

    @Test
    void concatSliceAndGatherPickTheRightElements() {
        Variable a = v(new float[] {1, 2, 3, 4}, 2, 2), b = v(new float[] {5, 6}, 2, 1);
        assertArrayEquals(new float[] {1, 2, 5, 3, 4, 6}, F.concat(List.of(a, b), 1).value().toFloatArray());
        assertArrayEquals(new float[] {2, 4}, F.slice(a, 1, 1, 2).value().toFloatArray());
        assertArrayEquals(new float[] {2, 1, 3, 3}, F.gather(a, 1, new int[] {1, 0, 0, 0}).value().toFloatArray());
    }
}
