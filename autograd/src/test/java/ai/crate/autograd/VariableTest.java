package ai.crate.autograd;

import static ai.crate.autograd.TestTensors.B;
import static ai.crate.autograd.TestTensors.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/** The graph machinery: accumulation, scopes, deep graphs, custom ops and misuse. */
class VariableTest {

    private static Variable vector(float... values) {
        return Variable.parameter(B.fromArray(values, values.length));
    }

    @Test
    void gradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        Variable x = vector(1, 2, 3);
        Variable loss = F.sum(F.mul(x, x));
        loss.backward();
        assertArrayEquals(new float[] {2, 4, 6}, x.grad().toFloatArray());
        loss.backward();
        assertArrayEquals(new float[] {4, 8, 12}, x.grad().toFloatArray());

        x.zeroGrad();
        assertNull(x.grad());
        F.sum(F.affine(x, 3f, 1f)).backward();
        assertArrayEquals(new float[] {3, 3, 3}, x.grad().toFloatArray());
    }

    @Test
    void zeroGradHelperClearsEveryParameter() {
        Variable w = vector(1, 2), b = vector(3, 4);
        F.sum(F.add(F.mul(w, w), b)).backward();
        Autograd.zeroGrad(List.of(w, b));
        assertNull(w.grad());
        assertNull(b.grad());
    }

    @Test
    void variableOnSeveralPathsGetsEveryContribution() {
        Variable x = vector(1, -2, 0.5f);
        F.sum(F.add(F.mul(x, x), x)).backward();   // d/dx (x² + x) = 2x + 1
        assertArrayEquals(new float[] {3, -3, 2}, x.grad().toFloatArray());
    }

    @Test
    void onlyParametersKeepGradients() {
        Variable x = vector(1, 2);
        Variable c = Variable.constant(B.fromArray(new float[] {5, 6}, 2));
        Variable hidden = F.mul(x, c);
        F.sum(hidden).backward();
        assertArrayEquals(new float[] {5, 6}, x.grad().toFloatArray());
        assertNull(c.grad());
        assertNull(hidden.grad());
        assertFalse(c.requiresGrad());
        assertTrue(hidden.requiresGrad());
        assertFalse(F.mul(c, c).requiresGrad());
    }

    @Test
    void backwardWithSeedForNonScalarOutput() {
        Variable x = vector(1, 2, 3);
        F.affine(x, 2f, 0f).backward(B.fromArray(new float[] {1, 10, 100}, 3));
        assertArrayEquals(new float[] {2, 20, 200}, x.grad().toFloatArray());
    }

    @Test
    void gradientIsAContiguousTensorOwnedByTheLeaf() {
        Variable x = Variable.parameter(normal(1, 2, 3));
        Tensor seed = normal(2, 3, 2);
        F.transpose(x).backward(seed);
        assertTrue(x.grad().isContiguous());
        assertArrayEquals(B.toArray(seed.transpose()), x.grad().toFloatArray());
        B.fill(seed, 0f);
        assertArrayEquals(B.toArray(normal(2, 3, 2).transpose()), x.grad().toFloatArray());
    }

    @Test
    void noGradScopeRecordsNothingAndNests() {
        Variable x = vector(1, 2);
        assertTrue(Autograd.isGradEnabled());
        try (var outer = Autograd.noGrad()) {
            try (var inner = Autograd.noGrad()) {
                assertFalse(Autograd.isGradEnabled());
            }
            assertFalse(Autograd.isGradEnabled(), "closing the inner scope must not re-enable recording");
            Variable y = F.mul(x, x);
            assertFalse(y.requiresGrad());
            assertTrue(y.parents().isEmpty());
            assertTrue(y.isLeaf());
            assertArrayEquals(new float[] {1, 4}, y.value().toFloatArray());
            assertThrows(IllegalStateException.class, () -> F.sum(y).backward());
        }
        assertTrue(Autograd.isGradEnabled());
        assertTrue(F.mul(x, x).requiresGrad());
    }

    @Test
    void noGradScopeIsPerThread() throws InterruptedException {
        AtomicReference<Boolean> otherThreadRecords = new AtomicReference<>();
        try (var s = Autograd.noGrad()) {
            Thread t = new Thread(() -> otherThreadRecords.set(Autograd.isGradEnabled()));
            t.start();
            t.join();
        }
        assertEquals(Boolean.TRUE, otherThreadRecords.get());
    }

    @Test
    void fiveThousandOpChainBackpropagatesOnASmallStack() throws InterruptedException {
        Variable x = vector(0.5f, -1f);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        // 128 KiB of stack: a recursive depth-first walk over 5,000 nodes overflows it (tried), an iterative one
        // fits in half of it.
        Thread t = new Thread(null, () -> {
            try {
                Variable y = x;
                for (int i = 0; i < 5_000; i++) y = F.affine(y, 1f, 0.001f);
                F.sum(F.mul(y, y)).backward();
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "small-stack", 128 * 1024);
        t.start();
        t.join();
        if (failure.get() != null) throw new AssertionError("backward failed", failure.get());
        float[] grad = x.grad().toFloatArray();   // d/dx (x + 5)² = 2(x + 5)
        assertEquals(11f, grad[0], 1e-3f);
        assertEquals(8f, grad[1], 1e-3f);
    }

    @Test
    void customOpThroughThePublicNodeApi() {
        Variable x = vector(1, 2, 3);
        Variable cube = cube(x);
        assertEquals("cube", cube.op());
        assertEquals(List.of(x), cube.parents());
        F.sum(cube).backward();
        assertArrayEquals(new float[] {3, 12, 27}, x.grad().toFloatArray());
    }

    /** x³ with gradient 3x², built only from the public API. */
    private static Variable cube(Variable x) {
        Backend be = x.backend();
        Tensor square = be.empty(x.shape()), out = be.empty(x.shape());
        be.unary(UnaryOp.SQUARE, x.value(), square);
        be.binary(BinaryOp.MUL, square, x.value(), out);
        return Variable.fromOp("cube", out, List.of(x), (dy, needs) -> {
            Tensor slope = be.empty(x.shape()), dx = be.empty(x.shape());
            be.affine(square, 3f, 0f, slope);
            be.binary(BinaryOp.MUL, slope, dy, dx);
            return new Tensor[] {dx};
        });
    }

    // ---- misuse ------------------------------------------------------------------------------------------------

    @Test
    void backwardOnNonScalarWithoutSeedIsRejected() {
        Variable y = F.affine(Variable.parameter(normal(1, 2, 3)), 2f, 0f);
        var e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("one-element") && e.getMessage().contains("[2, 3]"), e.getMessage());
    }

    @Test
    void seedOfWrongShapeIsRejected() {
        Variable y = F.affine(Variable.parameter(normal(1, 2, 3)), 2f, 0f);
        var e = assertThrows(IllegalArgumentException.class, () -> y.backward(normal(2, 3, 2)));
        assertTrue(e.getMessage().contains("[3, 2]") && e.getMessage().contains("[2, 3]"), e.getMessage());
    }

    @Test
    void backwardOnConstantIsRejected() {
        Variable c = Variable.constant(normal(1, 1));
        var e = assertThrows(IllegalStateException.class, c::backward);
        assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
    }

    @Test
    void mixingBackendsIsRejected() {
        Backend other = new ReferenceBackend();
        Variable a = Variable.parameter(normal(1, 3));
        Variable b = Variable.parameter(other.fromArray(new float[] {1, 2, 3}, 3));
        var e = assertThrows(IllegalArgumentException.class, () -> F.add(a, b));
        assertTrue(e.getMessage().startsWith("add:") && e.getMessage().contains("backends"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> F.concat(List.of(a, b), 0));
        assertThrows(IllegalArgumentException.class, () -> F.sum(a).backward(other.empty()));
    }

    @Test
    void customRuleReturningWrongShapeIsRejected() {
        Variable x = vector(1, 2, 3);
        Variable bad = Variable.fromOp("badOp", x.value(), List.of(x), (dy, needs) -> new Tensor[] {B.empty(2)});
        var e = assertThrows(IllegalStateException.class, () -> F.sum(bad).backward());
        assertTrue(e.getMessage().contains("badOp") && e.getMessage().contains("[3]"), e.getMessage());

        Variable missing = Variable.fromOp("noGrads", x.value(), List.of(x), (dy, needs) -> new Tensor[0]);
        e = assertThrows(IllegalStateException.class, () -> F.sum(missing).backward());
        assertTrue(e.getMessage().contains("noGrads"), e.getMessage());
    }

    @Test
    void opErrorsNameTheOpAndShapes() {
        Variable a = Variable.parameter(normal(1, 2, 3)), b = Variable.parameter(normal(2, 4, 5));
        assertMessage(() -> F.add(a, b), "add:", "[2, 3]", "[4, 5]");
        assertMessage(() -> F.matmul(a, b), "matmul:", "[2, 3]", "[4, 5]");
        assertMessage(() -> F.linear(a, b, null), "linear:", "[2, 3]", "[4, 5]");
        assertMessage(() -> F.slice(a, 1, 2, 5), "slice:", "[2, 3]");
        assertMessage(() -> F.sum(a, 2, false), "sum:", "axis 2");
        assertMessage(() -> F.concat(List.of(a, F.reshape(a, 6)), 0), "concat:", "[6]", "[2, 3]");
        assertMessage(() -> F.gather(a, 1, new int[] {0, 1, 2}), "gather:", "[2, 3]");
        assertMessage(() -> F.crossEntropy(a, new int[] {0, 3}, 0f), "crossEntropy", "label 3");
        assertMessage(() -> F.reshape(a, 4, -1), "reshape:", "[2, 3]");
    }

    private static void assertMessage(Runnable call, String... parts) {
        var e = assertThrows(IllegalArgumentException.class, call::run);
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
    }
}
