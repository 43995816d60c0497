package ai.crate.autograd;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Checks an op's backward rule against central differences of its forward.
 *
 * <p>The op's output y is reduced to the scalar L = Σ wᵢ·yᵢ with fixed random weights w (so every output element,
 * with its own weight, takes part). The analytic gradient of L is {@code y.backward(w)}; the numeric one perturbs
 * each input element x by ±h and takes (L(x+h) − L(x−h)) / ((x+h) − (x−h)), with L summed and the quotient formed in
 * double, and the denominator the difference of the two perturbed values actually stored in float32.
 *
 * <p>Defaults, and why. Tensors are float32, so each forward carries rounding error of about u·|L| with u ≈ 6e-8
 * (only the outputs an element affects count: the others round identically in both runs), which the quotient turns
 * into ≈ u·|L|/h; the truncation error of central differences is ≈ h²·|f'''|/6. Their sum is smallest near
 * h ≈ (3u)^(1/3) ≈ 6e-3 for unit-scale values, so the step is h = eps·max(1, |x|) with {@link Options#DEFAULT_EPS}
 * = 1e-2 (the 1e-6 usual in double would leave nothing but rounding noise). Numeric errors are then around
 * 1e-5…1e-4 for values and derivatives of order one. An element passes when |numeric − analytic| ≤ atol +
 * rtol·|numeric|, with {@link Options#DEFAULT_RTOL} = 1e-2 and {@link Options#DEFAULT_ATOL} = 1e-3: about ten times
 * the expected numeric error (across this module's tests the worst element uses under a tenth of its tolerance),
 * while a wrong rule (a missing factor, a sign, a transposition, a term routed to the wrong element) is off by far
 * more. Inputs must keep x ± h on one side of any kink (relu, abs at 0; max at ties) and inside the domain (log,
 * sqrt).
 */
public final class GradCheck {
    private GradCheck() {}

    /** Step, tolerances and the seed of the weights w. */
    public record Options(double eps, double rtol, double atol, long seed) {
        public static final double DEFAULT_EPS = 1e-2;
        public static final double DEFAULT_RTOL = 1e-2;
        public static final double DEFAULT_ATOL = 1e-3;
        public static final Options DEFAULTS = new Options(DEFAULT_EPS, DEFAULT_RTOL, DEFAULT_ATOL, 42L);

        public Options {
            if (!(eps > 0 && rtol >= 0 && atol >= 0)) {
                throw new IllegalArgumentException("GradCheck options need eps > 0, rtol >= 0, atol >= 0; got eps "
                        + eps + ", rtol " + rtol + ", atol " + atol);
            }
        }
    }

    /**
     * The outcome of a passing check: elements compared, and the element closest to failing (largest |numeric −
     * analytic| relative to its tolerance) with both gradients there.
     */
    public record Result(int elementsChecked, int worstInput, int worstElement, double numeric, double analytic,
                         double worstErrorOverTolerance) {}

    /** {@link #check(Backend, Options, Function, Tensor...)} with {@link Options#DEFAULTS}. */
    public static Result check(Backend backend, Function<List<Variable>, Variable> fn, Tensor... inputs) {
        return check(backend, Options.DEFAULTS, fn, inputs);
    }

    /**
     * Compares analytic and numeric gradients of {@code fn} with respect to every element of every input. The
     * inputs are copied, never modified; {@code fn} receives them as parameters, in order, and is called 2·n + 1
     * times for n input elements.
     *
     * @throws AssertionError           naming the worst element (input, element index, numeric, analytic) when any
     *                                  element is outside tolerance
     * @throws IllegalArgumentException when an input or the output is on another backend
     */
    public static Result check(Backend backend, Options options, Function<List<Variable>, Variable> fn,
                               Tensor... inputs) {
        List<Tensor> copies = new ArrayList<>();
        for (Tensor in : inputs) {
            if (in.backend() != backend) {
                throw new IllegalArgumentException("GradCheck: input " + in + " is on backend '"
                        + in.backend().name() + "', not '" + backend.name() + "'");
            }
            Tensor copy = backend.empty(in.shape());
            backend.copy(in, copy);
            copies.add(copy);
        }
        List<Variable> params = copies.stream().map(Variable::parameter).toList();

        Variable y = fn.apply(params);
        if (y.backend() != backend) {
            throw new IllegalArgumentException("GradCheck: output " + y.value() + " is on backend '"
                    + y.backend().name() + "', not '" + backend.name() + "'");
        }
        Tensor w = backend.empty(y.shape());
        backend.randomNormal(w, options.seed(), 0f, 1f);
        float[] weights = backend.toArray(w);
        // An output that does not require grad has zero analytic gradient; numeric differences then expose it.
        if (y.requiresGrad()) y.backward(w);

        int checked = 0, worstInput = -1, worstElement = -1;
        double worstRatio = -1, worstNumeric = 0, worstAnalytic = 0;
        for (int i = 0; i < copies.size(); i++) {
            Tensor x = copies.get(i);
            Tensor grad = params.get(i).grad();
            float[] analytic = grad == null ? new float[(int) x.size()] : backend.toArray(grad);
            float[] values = backend.toArray(x);
            Tensor flat = x.reshape(-1);  // a view: x is a fresh contiguous copy
            for (int j = 0; j < values.length; j++) {
                double h = options.eps() * Math.max(1.0, Math.abs(values[j]));
                float plus = (float) (values[j] + h), minus = (float) (values[j] - h);
                Tensor element = flat.slice(0, j, j + 1);
                backend.fill(element, plus);
                double lossPlus = weightedSum(backend, fn, params, weights);
                backend.fill(element, minus);
                double lossMinus = weightedSum(backend, fn, params, weights);
                backend.fill(element, values[j]);
                double numeric = (lossPlus - lossMinus) / ((double) plus - (double) minus);
                double ratio = Math.abs(numeric - analytic[j]) / (options.atol() + options.rtol() * Math.abs(numeric));
                boolean worse = Double.isNaN(ratio) ? !Double.isNaN(worstRatio) : ratio > worstRatio;
                if (worse) {
                    worstRatio = ratio;
                    worstInput = i;
                    worstElement = j;
                    worstNumeric = numeric;
                    worstAnalytic = analytic[j];
                }
                checked++;
            }
        }
        if (!(worstRatio <= 1.0) && worstInput >= 0) {
            Tensor x = copies.get(worstInput);
            throw new AssertionError(String.format(Locale.ROOT,
                    "GradCheck failed: input %d %s, element %d %s: numeric %.6g, analytic %.6g, |difference| %.3g"
                            + " > atol + rtol·|numeric| = %.3g (eps %.3g, rtol %.3g, atol %.3g; %d elements checked)",
                    worstInput, Arrays.toString(x.shape()), worstElement,
                    Arrays.toString(unravel(worstElement, x.shape())), worstNumeric, worstAnalytic,
                    Math.abs(worstNumeric - worstAnalytic),
                    options.atol() + options.rtol() * Math.abs(worstNumeric),
                    options.eps(), options.rtol(), options.atol(), checked));
        }
        return new Result(checked, worstInput, worstElement, worstNumeric, worstAnalytic, Math.max(worstRatio, 0));
    }

    /** L = Σ wᵢ·yᵢ in double, from a forward run that records nothing. */
    private static double weightedSum(Backend backend, Function<List<Variable>, Variable> fn, List<Variable> params,
                                      float[] weights) {
        float[] y;
        try (var s = Autograd.noGrad()) {
            y = backend.toArray(fn.apply(params).value());
        }
        double sum = 0;
        for (int i = 0; i < y.length; i++) sum += (double) weights[i] * y[i];
        return sum;
    }

    private static int[] unravel(int linear, int[] shape) {
        int[] index = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d] = linear % shape[d];
            linear /= shape[d];
        }
        return index;
    }
}
