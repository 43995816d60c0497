package ai.crate.cli;

import ai.crate.model.data.Normalization;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/** PNG/JPEG files as model input: resized to the model's size, grey or RGB as it takes, normalised. */
final class ImageFiles {
    private ImageFiles() {}

    /** The file decoded and resized (bilinear) to size × size RGB. */
    static BufferedImage read(Path file, int size) throws IOException {
        BufferedImage src;
        try {
            src = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": cannot read image: " + e.getMessage(), e);
        }
        if (src == null) throw new IOException(file + ": not a PNG or JPEG image this JVM can decode");
        return resize(src, size, size);
    }

    static BufferedImage resize(BufferedImage src, int width, int height) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(src, 0, 0, width, height, null);
        g.dispose();
        return out;
    }

    /**
     * Writes the image's [C, H, W] model input at {@code off}: pixels in [0, 1] (grey as 0.299R + 0.587G + 0.114B for
     * one channel, inverted when asked), then normalised.
     */
    static void toInput(BufferedImage img, int channels, Normalization norm, boolean invert, float[] out, int off) {
        int size = img.getWidth();
        float[] mean = norm.isNone() ? null : norm.mean(), std = norm.isNone() ? null : norm.std();
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int rgb = img.getRGB(x, y);
                float[] ch = {(rgb >> 16 & 255) / 255f, (rgb >> 8 & 255) / 255f, (rgb & 255) / 255f};
                for (int k = 0; k < channels; k++) {
                    float v = channels == 1 ? 0.299f * ch[0] + 0.587f * ch[1] + 0.114f * ch[2] : ch[k];
                    if (invert) v = 1f - v;
                    if (mean != null) v = (v - mean[k]) / std[k];
                    out[off + (k * size + y) * size + x] = v;
                }
            }
        }
    }
}
