package ai.crate.model.data;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;

/** Image files of every kind the folder data set reads, written with the JDK, with pixel values known per (c, y, x). */
final class ImageFixtures {
    private ImageFixtures() {}

    static int greyValue(int y, int x) { return (29 * y + 17 * x + 128) & 255; }

    static int grey16Value(int y, int x) { return (7919 * y + 104_729 * x + 12_345) & 0xFFFF; }

    static int rgbValue(int c, int y, int x) { return (41 * c + 23 * y + 11 * x + 5) & 255; }

    /** The palette has 16 entries; pixel (y, x) takes entry (y + 3x) mod 16. */
    static int paletteValue(int c, int y, int x) { return paletteEntry((y + 3 * x) % 16, c); }

    private static int paletteEntry(int i, int c) { return (i * (37 + 50 * c) + 11 * c) & 255; }

    static Path grey8(Path file, int h, int w) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) r.setSample(x, y, 0, greyValue(y, x));
        return write(img, "png", file);
    }

    static Path grey16(Path file, int h, int w) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) r.setSample(x, y, 0, grey16Value(y, x));
        return write(img, "png", file);
    }

    static Path rgb(Path file, String format, int h, int w) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) img.setRGB(x, y, rgbValue(0, y, x) << 16 | rgbValue(1, y, x) << 8 | rgbValue(2, y, x));
        }
        return write(img, format, file);
    }

    /** RGB as {@link #rgb} with a varying alpha, which decoding drops. */
    static Path rgba(Path file, int h, int w) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int alpha = 255 - 30 * ((x + y) % 5);
                img.setRGB(x, y, alpha << 24 | rgbValue(0, y, x) << 16 | rgbValue(1, y, x) << 8 | rgbValue(2, y, x));
            }
        }
        return write(img, "png", file);
    }

    static Path palette(Path file, int h, int w) throws IOException {
        byte[][] rgb = new byte[3][16];
        for (int c = 0; c < 3; c++) for (int i = 0; i < 16; i++) rgb[c][i] = (byte) paletteEntry(i, c);
        IndexColorModel cm = new IndexColorModel(4, 16, rgb[0], rgb[1], rgb[2]);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_BINARY, cm);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) r.setSample(x, y, 0, (y + 3 * x) % 16);
        return write(img, "png", file);
    }

    static Path flatJpeg(Path file, int h, int w, int red, int green, int blue) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, red << 16 | green << 8 | blue);
        return write(img, "jpg", file);
    }

    static Path flatGreyJpeg(Path file, int h, int w, int value) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) r.setSample(x, y, 0, value);
        return write(img, "jpg", file);
    }

    /** The file cut to its first 60 % of bytes: a corrupt image. */
    static Path truncated(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(b, b.length * 6 / 10));
        return file;
    }

    /** A PNG signature and header claiming width × height, and no pixels. */
    static Path pngHeaderOnly(Path file, int width, int height) throws IOException {
        ByteBuffer ihdr = ByteBuffer.allocate(4 + 13);
        ihdr.put("IHDR".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(width).putInt(height)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer png = ByteBuffer.allocate(8 + 4 + 17 + 4);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}).putInt(13).put(ihdr.array())
                .putInt((int) crc.getValue());
        Files.write(file, png.array());
        return file;
    }

    private static Path write(BufferedImage img, String format, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        if (!ImageIO.write(img, format, file.toFile())) throw new IOException("no " + format + " writer");
        return file;
    }
}
