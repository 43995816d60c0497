package ai.crate.autograd;

import static ai.crate.autograd.TestTensors.B;
import static ai.crate.autograd.TestTensors.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import org.junit.jupiter.api.Test;

import java.util.List;

/** GradCheck itself: it must reject wrong gradients, and say where. */
class GradCheckTest {

    /** x² whose backward rule multiplies the true gradient 2x·dy by {@code factor}. */
    private static Variable square(Variable x, float factor) {
        Tensor out = B.empty(x.shape());
        B.unary(UnaryOp.SQUARE, x.value(), out);
        return Variable.fromOp("square", out, List.of(x), (dy, needs) -> {
            Tensor dx = B.empty(x.shape()), scaled = B.empty(x.shape());
            B.unaryBackward(UnaryOp.SQUARE, x.value(), dy, dx);
            B.affine(dx, factor, 0f, scaled);
            return new Tensor[] {scaled};
        });
    }

    @Test
    void acceptsACorrectCustomOp() {
        GradCheck.Result r = GradCheck.check(B, xs -> square(xs.getFirst(), 1f), normal(1, 3, 17));
        assertEquals(51, r.elementsChecked());
        assertTrue(r.worstErrorOverTolerance() <= 1.0);
    }

    @Test
    void rejectsAGradientScaledByTwo() {
        var e = assertThrows(AssertionError.class,
                () -> GradCheck.check(B, xs -> square(xs.getFirst(), 2f), normal(1, 3, 17)));
        assertTrue(e.getMessage().contains("input 0 [3, 17]") && e.getMessage().contains("numeric")
                && e.getMessage().contains("analytic"), e.getMessage());
    }

    @Test
    void rejectsAGradientFivePercentOffOnUnitScaleValues() {
        // The default tolerance is tight enough to see a 5% error on gradients of order one.
        Tensor x = TestTensors.uniform(1, 1f, 2f, 17);
        assertThrows(AssertionError.class, () -> GradCheck.check(B, xs -> square(xs.getFirst(), 1.05f), x));
    }

    @Test
    void namesTheWorstElement() {
        // Correct everywhere except element 5 of the second input, where the gradient is dropped.
        Tensor a = normal(1, 4), b = TestTensors.uniform(2, 1f, 2f, 2, 3);
        var e = assertThrows(AssertionError.class, () -> GradCheck.check(B, xs -> {
            Variable x = xs.get(1);
            Variable y = Variable.fromOp("dropOne", x.value(), List.of(x), (dy, needs) -> {
                float[] g = B.toArray(dy);
                g[5] = 0f;
                return new Tensor[] {B.fromArray(g, 2, 3)};
            });
            return F.add(F.sum(xs.get(0)), F.sum(y));
        }, a, b));
        assertTrue(e.getMessage().contains("input 1 [2, 3], element 5 [1, 2]"), e.getMessage());
        assertTrue(e.getMessage().contains("analytic 0"), e.getMessage());
    }

    @Test
    void rejectsAnOpThatRecordsNoGradient() {
        var e = assertThrows(AssertionError.class, () -> GradCheck.check(B,
                xs -> Variable.constant(F.exp(xs.getFirst()).value()), normal(1, 5)));
        assertTrue(e.getMessage().contains("analytic 0"), e.getMessage());
    }

    @Test
    void leavesItsInputsUntouched() {
        Tensor x = normal(1, 3, 5);
        float[] before = x.toFloatArray();
        GradCheck.check(B, xs -> F.tanh(xs.getFirst()), x);
        assertArrayEquals(before, x.toFloatArray());
    }

    @Test
    void rejectsInputsOnAnotherBackend() {
        Tensor foreign = new ReferenceBackend().fromArray(new float[] {1}, 1);
        assertThrows(IllegalArgumentException.class, () -> GradCheck.check(B, xs -> xs.getFirst(), foreign));
    }
}
