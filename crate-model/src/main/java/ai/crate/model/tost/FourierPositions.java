package ai.crate.model.tost;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.Module;

/**
 * ToST's {@code pos_embeder} (XCiT's PositionalEncodingFourier): for a g×g grid a fixed 64-channel table, per
 * position the sines and cosines of y and x (each (index + 1)/(g + 1e-6)·2π) over 32 frequencies 10000^(2⌊i/2⌋/32)
 * — y's 32 channels, then x's, each alternating sin, cos — projected to d by {@code token_projection} (a 1×1
 * convolution with bias) and added to the patch tokens.
 */
public final class FourierPositions extends Module {
    static final int HIDDEN = 32;
    private static final double TEMPERATURE = 10000, SCALE = 2 * Math.PI, EPS = 1e-6;

    private final Variable weight;
    private final Variable bias;
    private int grid;
    private float[] table;

    public FourierPositions(Init init, int dim) {
        float bound = (float) (1 / Math.sqrt(2 * HIDDEN));
        this.weight = parameter("token_projection.weight", init.uniform(bound, dim, 2 * HIDDEN, 1, 1));
        this.bias = parameter("token_projection.bias", init.uniform(bound, dim));
    }

    /** The [g·g, 64] encoding in row-major positions, computed in double (StrictMath) and rounded once. */
    static float[] table(int grid) {
        float[] t = new float[grid * grid * 2 * HIDDEN];
        for (int y = 0; y < grid; y++) {
            for (int x = 0; x < grid; x++) {
                int row = (y * grid + x) * 2 * HIDDEN;
                double ye = (y + 1) / (grid + EPS) * SCALE, xe = (x + 1) / (grid + EPS) * SCALE;
                for (int i = 0; i < HIDDEN; i++) {
                    double freq = StrictMath.pow(TEMPERATURE, 2.0 * (i / 2) / HIDDEN);
                    t[row + i] = (float) (i % 2 == 0 ? StrictMath.sin(ye / freq) : StrictMath.cos(ye / freq));
                    t[row + HIDDEN + i] = (float) (i % 2 == 0 ? StrictMath.sin(xe / freq) : StrictMath.cos(xe / freq));
                }
            }
        }
        return t;
    }

    /** The positions [1, g·g, d] of a g×g grid. */
    public Variable forward(Backend be, int grid) {
        if (table == null || this.grid != grid) {
            this.table = table(grid);
            this.grid = grid;
        }
        Variable fixed = Variable.temporary(be.fromArray(table, 1, grid * grid, 2 * HIDDEN));
        Variable pos = F.linear(fixed, F.reshape(weight, weight.shape()[0], 2 * HIDDEN), bias);
        fixed.discard();
        return pos;
    }
}
