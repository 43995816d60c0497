package ai.crate.model.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Objects;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * An image as 8-bit planes [C, H, W] (C = 1 grey or 3 RGB once decoded), with the few transforms a data set needs:
 * channel conversion as PIL's {@code convert}, resizing as PIL's bilinear resize (antialiased when shrinking), and
 * torchvision's {@code Resize(size)} + {@code CenterCrop(size)}. Immutable; the pixels are not copied in or out.
 */
public record Picture(byte[] pixels, int channels, int height, int width) {
    /** Larger images (64 M pixels; PIL warns above 89 M) are refused before decoding, so a corrupt header cannot exhaust memory. */
    public static final long MAX_PIXELS = 1L << 26;

    public Picture {
        Objects.requireNonNull(pixels, "pixels");
        if (channels < 1 || height < 1 || width < 1 || (long) channels * height * width != pixels.length) {
            throw new IllegalArgumentException(pixels.length + " bytes are not a " + channels + "×" + height + "×"
                    + width + " picture");
        }
    }

    /**
     * Decodes a PNG or JPEG (or another format the JDK's ImageIO reads): grey (1, 2, 4, 8 or 16 bits, with or without
     * alpha) stays one channel, everything else (RGB, RGBA, palette, 16-bit) becomes RGB; alpha is dropped, as PIL's
     * {@code convert("RGB")} does, and 16-bit samples are rounded to 8 bits. Grey samples are read as stored, not
     * through Java2D's linear-grey colour conversion.
     *
     * @throws IOException naming the file when it is not an image ImageIO decodes, is corrupt, or is too large
     */
    public static Picture read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": not a file");
        try {
            return of(decode(file));
        } catch (Refused e) {
            throw new IOException(file + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {   // ImageIO's decoders throw runtime exceptions on some bad files
            throw new IOException(file + ": corrupt or unreadable image: " + e, e);
        }
    }

    /** Why a file is refused before its pixels are decoded. */
    private static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        Refused(String message) { super(message); }
    }

    private static BufferedImage decode(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new Refused("cannot open");
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new Refused("not an image format the JDK decodes (PNG, JPEG, GIF, BMP)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0), h = reader.getHeight(0);
                if (w < 1 || h < 1 || w * h > MAX_PIXELS) {
                    throw new Refused(w + "×" + h + " pixels (more than " + MAX_PIXELS + " are refused)");
                }
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        }
    }

    /** A decoded image's pixels, as {@link #read} describes. */
    public static Picture of(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight(), plane = w * h;
        ColorModel cm = img.getColorModel();
        Raster raster = img.getRaster();
        boolean grey = cm instanceof ComponentColorModel && cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY;
        if (grey || cm instanceof ComponentColorModel && cm.getColorSpace().isCS_sRGB()) {
            int channels = grey ? 1 : 3;
            byte[] out = new byte[channels * plane];
            int[] samples = new int[plane];
            for (int c = 0; c < channels; c++) {
                raster.getSamples(0, 0, w, h, c, samples);
                int max = (1 << cm.getComponentSize(c)) - 1;
                for (int p = 0; p < plane; p++) out[c * plane + p] = (byte) ((samples[p] * 255L + max / 2) / max);
            }
            return new Picture(out, channels, h, w);
        }
        byte[] out = new byte[3 * plane];
        if (cm instanceof IndexColorModel palette) {
            int[] index = raster.getSamples(0, 0, w, h, 0, new int[plane]);
            for (int p = 0; p < plane; p++) {
                out[p] = (byte) palette.getRed(index[p]);
                out[plane + p] = (byte) palette.getGreen(index[p]);
                out[2 * plane + p] = (byte) palette.getBlue(index[p]);
            }
            return new Picture(out, 3, h, w);
        }
        int[] rgb = img.getRGB(0, 0, w, h, null, 0, w);   // packed sRGB models (TYPE_INT_RGB and the like)
        for (int p = 0; p < plane; p++) {
            out[p] = (byte) (rgb[p] >> 16);
            out[plane + p] = (byte) (rgb[p] >> 8);
            out[2 * plane + p] = (byte) rgb[p];
        }
        return new Picture(out, 3, h, w);
    }

    /**
     * This picture with {@code channels} channels: RGB to grey as PIL's {@code convert("L")} (ITU-R 601-2 luma,
     * L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16), grey to RGB by repetition. Only 1 and 3 channels convert.
     */
    public Picture withChannels(int target) {
        if (target == channels) return this;
        int plane = height * width;
        if (channels == 3 && target == 1) {
            byte[] out = new byte[plane];
            for (int p = 0; p < plane; p++) {
                int r = pixels[p] & 255, g = pixels[plane + p] & 255, b = pixels[2 * plane + p] & 255;
                out[p] = (byte) ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);
            }
            return new Picture(out, 1, height, width);
        }
        if (channels == 1 && target == 3) {
            byte[] out = new byte[3 * plane];
            for (int c = 0; c < 3; c++) System.arraycopy(pixels, 0, out, c * plane, plane);
            return new Picture(out, 3, height, width);
        }
        throw new IllegalArgumentException("cannot convert a " + channels + "-channel picture to " + target
                + " channels (only grey ↔ RGB)");
    }

    /** The region [top, top + regionHeight) × [left, left + regionWidth) resized to outHeight × outWidth. */
    public Picture resized(double top, double left, double regionHeight, double regionWidth, int outHeight,
            int outWidth) {
        if (!(top >= 0 && left >= 0 && regionHeight > 0 && regionWidth > 0 && top + regionHeight <= height
                && left + regionWidth <= width) || outHeight < 1 || outWidth < 1) {
            throw new IllegalArgumentException("region " + regionHeight + "×" + regionWidth + " at (" + top + ", "
                    + left + ") of a " + height + "×" + width + " picture to " + outHeight + "×" + outWidth);
        }
        byte[] out = Resample.bilinear(pixels, channels, height, width, top, left, regionHeight, regionWidth,
                outHeight, outWidth);
        return new Picture(out, channels, outHeight, outWidth);
    }

    /** The whole picture resized to outHeight × outWidth. */
    public Picture resized(int outHeight, int outWidth) {
        if (outHeight == height && outWidth == width) return this;
        return resized(0, 0, height, width, outHeight, outWidth);
    }

    /** torchvision's {@code Resize(side)}: the shorter side to {@code side}, the longer one scaled and truncated. */
    public Picture shorterSideTo(int side) {
        if (Math.min(height, width) == side) return this;
        return height <= width ? resized(side, (int) ((long) side * width / height))
                : resized((int) ((long) side * height / width), side);
    }

    /** torchvision's {@code CenterCrop(side)} of a picture at least side × side. */
    public Picture centreCrop(int side) {
        if (height < side || width < side) {
            throw new IllegalArgumentException("cannot crop " + side + "×" + side + " out of " + height + "×" + width);
        }
        if (height == side && width == side) return this;
        // Python's round (half to even), as torchvision's CenterCrop computes the offsets
        int top = (int) Math.rint((height - side) / 2.0), left = (int) Math.rint((width - side) / 2.0);
        byte[] out = new byte[channels * side * side];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < side; y++) {
                System.arraycopy(pixels, (c * height + top + y) * width + left, out, (c * side + y) * side, side);
            }
        }
        return new Picture(out, channels, side, side);
    }

    /** What evaluation sees: the shorter side resized to {@code side}, then the centre side × side. */
    public Picture fitted(int side) { return shorterSideTo(side).centreCrop(side); }

    /** Pixel (c, y, x), 0..255. */
    public int pixel(int c, int y, int x) {
        Objects.checkIndex(c, channels);
        Objects.checkIndex(y, height);
        Objects.checkIndex(x, width);
        return pixels[(c * height + y) * width + x] & 255;
    }

    public int bytes() { return pixels.length; }
}
