package ai.crate.cli;

import ai.crate.model.data.Normalization;
import ai.crate.model.data.Picture;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** Pictures as model input and as images to draw on. */
final class ImageFiles {
    private ImageFiles() {}

    static BufferedImage resize(BufferedImage src, int width, int height) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(src, 0, 0, width, height, null);
        g.dispose();
        return out;
    }

    /** The picture as an RGB image (grey repeated), for figures. */
    static BufferedImage image(Picture p) {
        Picture rgb = p.withChannels(3);
        int h = rgb.height(), w = rgb.width(), plane = h * w;
        byte[] px = rgb.pixels();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < plane; i++) {
            out.setRGB(i % w, i / w, (px[i] & 255) << 16 | (px[plane + i] & 255) << 8 | px[2 * plane + i] & 255);
        }
        return out;
    }

    /** Writes the picture's [C, H, W] model input at {@code off}: pixels in [0, 1], inverted when asked, normalised. */
    static void toInput(Picture p, Normalization norm, boolean invert, float[] out, int off) {
        int channels = p.channels(), plane = p.height() * p.width();
        norm.checkChannels(channels, "the model input");
        float[] mean = norm.isNone() ? null : norm.mean(), std = norm.isNone() ? null : norm.std();
        byte[] px = p.pixels();
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < plane; i++) {
                float v = (px[c * plane + i] & 255) / 255f;
                if (invert) v = 1f - v;
                if (mean != null) v = (v - mean[c]) / std[c];
                out[off + c * plane + i] = v;
            }
        }
    }
}
