package ai.crate.autograd;

import static ai.crate.autograd.TestTensors.B;
import static ai.crate.autograd.TestTensors.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Buffer reuse must never change a result: gradients with in-flight gradients handed back during backward and the
 * graph released between steps equal those of fresh runs, including graphs that pass one gradient tensor to
 * several parents (add, x + x, concat's views of dy).
 */
class BufferReleaseTest {

    /** A small network touching the ops whose backward shares or views dy. */
    private static Variable loss(Variable w, Variable x, Variable bias) {
        Variable h = F.add(F.matmul(x, w), bias);                 // bias gradient sums dy; x·w shares dy with add
        Variable twice = F.add(h, h);                             // both parents are one node
        Variable joined = F.concat(List.of(twice, F.relu(h)), 1); // backward hands out views of one dy
        Variable y = F.layerNorm(joined, Variable.constant(ones(joined.shape()[1])),
                Variable.constant(zeros(joined.shape()[1])), 1e-5f);
        return F.crossEntropy(y, new int[] {1, 0, 3}, 0.1f);
    }

    private static Tensor ones(int n) {
        Tensor t = B.empty(n);
        B.fill(t, 1f);
        return t;
    }

    private static Tensor zeros(int n) { return B.empty(n); }

    @Test
    void reusedBuffersGiveTheSameGradients() {
        Variable w = Variable.parameter(normal(1, 5, 4)), bias = Variable.parameter(normal(2, 4));
        Variable x = Variable.constant(normal(3, 3, 5));
        Variable first = loss(w, x, bias);
        first.backward();
        float[] dw = w.grad().toFloatArray(), db = bias.grad().toFloatArray();
        float lossValue = first.value().item();
        first.releaseGraph();
        for (int step = 0; step < 3; step++) {
            w.zeroGrad();
            bias.zeroGrad();
            Variable l = loss(w, x, bias);
            l.backward();
            assertArrayEquals(dw, w.grad().toFloatArray(), "step " + step + " dw");
            assertArrayEquals(db, bias.grad().toFloatArray(), "step " + step + " dbias");
            assertTrue(l.value().item() == lossValue);
            l.releaseGraph();
        }
        assertArrayEquals(new float[] {3}, new float[] {x.value().dim(0)}, "constants are left alone");
        assertArrayEquals(normal(3, 3, 5).toFloatArray(), x.value().toFloatArray(), "input data untouched");
    }

    @Test
    void releasedValuesCannotBeRead() {
        Variable w = Variable.parameter(normal(4, 5, 4)), bias = Variable.parameter(normal(5, 4));
        Variable x = Variable.constant(normal(6, 3, 5));
        Variable l = loss(w, x, bias);
        l.backward();
        l.releaseGraph();
        IllegalStateException e = assertThrows(IllegalStateException.class, l::value);
        assertTrue(e.getMessage().contains("releaseGraph"), e.getMessage());
        assertTrue(w.value().size() == 20 && w.grad() != null, "parameters and their gradients stay");
    }

    /** discard() hands back only what nothing can read again: op results without a tape, never leaves or views. */
    @Test
    void discardReleasesOnlyUntapedResultsOfTheirOwn() {
        Variable w = Variable.parameter(normal(5, 3, 4)), x = Variable.constant(normal(6, 2, 3));
        Variable taped = F.matmul(x, w);
        taped.discard();                                       // a tape may still read it: nothing happens
        assertArrayEquals(new int[] {2, 4}, taped.value().shape());
        try (var noGrad = Autograd.noGrad()) {
            Variable y = F.matmul(x, w), view = F.reshape(y, 8);
            assertTrue(y.mayOverwrite() && !view.mayOverwrite() && !w.mayOverwrite() && !x.mayOverwrite());
            view.discard();
            w.discard();
            x.discard();
            float[] before = y.value().toFloatArray();
            assertArrayEquals(before, view.value().toFloatArray(), "views, parameters and constants are kept");
            y.discard();
            IllegalStateException e = assertThrows(IllegalStateException.class, y::value);
            assertTrue(e.getMessage().contains("discard()"), e.getMessage());
            assertTrue(!y.mayOverwrite(), "once handed back, never again");
            y.discard();                                       // a second discard is a no-op, not a double release
        }
    }
}
