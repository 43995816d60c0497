package ai.crate.model.tost;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import ai.crate.model.nn.BatchNorm;
import ai.crate.model.nn.Conv2d;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.Module;
import ai.crate.model.nn.Stem;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ToST's {@code patch_embed}: {@code proj.{0,2,4,6}} = (Conv2d 3×3, stride 2, padding 1, no bias; BatchNorm2d) with
 * GELU between (the odd indices), channels d/8, d/4, d/2, d for patch 16 and d/4, d/2, d for patch 8; images
 * [B, C, H, W] to tokens [B, (H/p)², d] in row-major order, for any square size divisible by p (as the official
 * model, whose positions follow the grid). Runs channels-last throughout.
 */
public final class ConvStem extends Stem {
    private final List<Conv2d> convs = new ArrayList<>();
    private final List<BatchNorm> norms = new ArrayList<>();
    private final int channels;
    private final int patchSize;

    public ConvStem(Init init, int channels, int patchSize, int dim) {
        this.channels = channels;
        this.patchSize = patchSize;
        int[] widths = widths(patchSize, dim);
        int cin = channels;
        for (int i = 0; i < widths.length; i++) {
            Module layer = child("proj." + 2 * i, new ConvBn(init, cin, widths[i]));
            convs.add(((ConvBn) layer).conv);
            norms.add(((ConvBn) layer).norm);
            cin = widths[i];
        }
    }

    /** The convolutions' widths for a patch size: 16 → d/8, d/4, d/2, d; 8 → d/4, d/2, d. */
    static int[] widths(int patchSize, int dim) {
        return switch (patchSize) {
            case 16 -> new int[] {dim / 8, dim / 4, dim / 2, dim};
            case 8 -> new int[] {dim / 4, dim / 2, dim};
            default -> throw new IllegalArgumentException("ToST's convolutional stem takes patch 8 or 16, got "
                    + patchSize);
        };
    }

    @Override
    public Variable forward(Tensor images) {
        int[] s = images.shape();
        if (s.length != 4 || s[1] != channels || s[2] != s[3] || s[2] % patchSize != 0) {
            throw new IllegalArgumentException("ToST takes images [B, " + channels + ", S, S] with S a multiple of "
                    + patchSize + ", got " + Arrays.toString(s));
        }
        int b = s[0], h = s[2], w = s[3];
        Tensor channelsLast = images.permute(0, 2, 3, 1).contiguous().reshape(b, h * w, channels);
        Variable x = Variable.temporaryUnlessViewOf(channelsLast, images);
        for (int i = 0; i < convs.size(); i++) {
            if (i > 0) x = replace(x, F.gelu(x));
            x = replace(x, convs.get(i).forward(x, h, w));
            h = convs.get(i).outputSize(h);
            w = convs.get(i).outputSize(w);
            x = replace(x, norms.get(i).forward(x));
        }
        return x;
    }

    public List<BatchNorm> norms() { return List.copyOf(norms); }

    private static Variable replace(Variable consumed, Variable next) {
        consumed.discard();
        return next;
    }

    /** One {@code conv3x3}: "0" the convolution, "1" its BatchNorm. */
    private static final class ConvBn extends Module {
        final Conv2d conv;
        final BatchNorm norm;

        ConvBn(Init init, int in, int out) {
            this.conv = child("0", new Conv2d(init, in, out, 3, 2, 1));
            this.norm = child("1", new BatchNorm(init, out));
        }
    }
}
