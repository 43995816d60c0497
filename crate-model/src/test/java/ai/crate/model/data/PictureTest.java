package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding every PNG kind and JPEG to known pixels, channel conversion, and resizing against PIL's. */
class PictureTest {
    @TempDir
    Path dir;

    @Test
    void decodesEveryPngKindToTheStoredValues() throws IOException {
        int h = 5, w = 7;
        Picture grey = Picture.read(ImageFixtures.grey8(dir.resolve("g8.png"), h, w));
        assertEquals(1, grey.channels());
        Picture grey16 = Picture.read(ImageFixtures.grey16(dir.resolve("g16.png"), h, w));
        Picture rgb = Picture.read(ImageFixtures.rgb(dir.resolve("rgb.png"), "png", h, w));
        Picture rgba = Picture.read(ImageFixtures.rgba(dir.resolve("rgba.png"), h, w));
        Picture palette = Picture.read(ImageFixtures.palette(dir.resolve("pal.png"), h, w));
        assertEquals(3, rgb.channels());
        assertEquals(3, rgba.channels());
        assertEquals(3, palette.channels());
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                // read as stored: no linear-grey colour conversion (which would lift 128 to about 186)
                assertEquals(ImageFixtures.greyValue(y, x), grey.pixel(0, y, x), "8-bit grey at " + y + "," + x);
                int v16 = ImageFixtures.grey16Value(y, x);
                assertEquals((v16 * 255L + 32767) / 65535, grey16.pixel(0, y, x), "16-bit grey rounded to 8 bits");
                for (int c = 0; c < 3; c++) {
                    assertEquals(ImageFixtures.rgbValue(c, y, x), rgb.pixel(c, y, x), "RGB");
                    assertEquals(ImageFixtures.rgbValue(c, y, x), rgba.pixel(c, y, x), "RGBA: alpha dropped");
                    assertEquals(ImageFixtures.paletteValue(c, y, x), palette.pixel(c, y, x), "palette");
                }
            }
        }
    }

    @Test
    void decodesJpegCloseToItsSource() throws IOException {
        // JPEG is lossy: flat 8×8 blocks of one colour come back within a few levels
        Picture jpeg = Picture.read(ImageFixtures.flatJpeg(dir.resolve("flat.jpg"), 16, 16, 200, 40, 90));
        assertEquals(3, jpeg.channels());
        int[] want = {200, 40, 90};
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 16; y++) {
                for (int x = 0; x < 16; x++) {
                    assertTrue(Math.abs(jpeg.pixel(c, y, x) - want[c]) <= 6, "channel " + c + ": " + jpeg.pixel(c, y, x));
                }
            }
        }
        Picture greyJpeg = Picture.read(ImageFixtures.flatGreyJpeg(dir.resolve("grey.jpg"), 16, 16, 77));
        assertEquals(1, greyJpeg.channels());
        assertTrue(Math.abs(greyJpeg.pixel(0, 8, 8) - 77) <= 2, "grey JPEG: " + greyJpeg.pixel(0, 8, 8));
    }

    @Test
    void refusesWhatIsNotAnImageNamingTheFile() throws IOException {
        Path text = Files.writeString(dir.resolve("notes.png"), "not an image");
        IOException e = assertThrows(IOException.class, () -> Picture.read(text));
        assertTrue(e.getMessage().startsWith(text.toString()) && e.getMessage().contains("not an image format"),
                e.getMessage());
        Path truncated = ImageFixtures.truncated(ImageFixtures.rgb(dir.resolve("cut.png"), "png", 40, 40));
        IOException cut = assertThrows(IOException.class, () -> Picture.read(truncated));
        assertTrue(cut.getMessage().startsWith(truncated.toString()), cut.getMessage());
        Path huge = ImageFixtures.pngHeaderOnly(dir.resolve("huge.png"), 100_000, 100_000);
        IOException big = assertThrows(IOException.class, () -> Picture.read(huge));
        assertTrue(big.getMessage().contains("100000×100000 pixels"), big.getMessage());
        assertThrows(IOException.class, () -> Picture.read(dir.resolve("missing.png")));
    }

    @Test
    void resizesAsPilBilinear() throws IOException {
        JsonObject fixture = fixture();
        int cases = 0;
        for (JsonElement e : fixture.getAsJsonArray("resize")) {
            JsonObject c = e.getAsJsonObject();
            int channels = c.get("mode").getAsString().equals("L") ? 1 : 3;
            Picture src = new Picture(bytes(c.getAsJsonArray("pixels")), channels, c.get("height").getAsInt(),
                    c.get("width").getAsInt());
            JsonArray box = c.getAsJsonArray("box");
            double x0 = box.get(0).getAsDouble(), y0 = box.get(1).getAsDouble();
            Picture got = src.resized(y0, x0, box.get(3).getAsDouble() - y0, box.get(2).getAsDouble() - x0,
                    c.get("out_height").getAsInt(), c.get("out_width").getAsInt());
            byte[] want = bytes(c.getAsJsonArray("expected"));
            // PIL rounds to 8 bits between its two passes, we round once: at most one level apart, rarely
            long total = 0;
            for (int i = 0; i < want.length; i++) {
                int d = Math.abs((got.pixels()[i] & 255) - (want[i] & 255));
                assertTrue(d <= 1, "case " + cases + " pixel " + i + ": " + (got.pixels()[i] & 255) + " vs PIL "
                        + (want[i] & 255));
                total += d;
            }
            assertTrue(total < 0.25 * want.length, "case " + cases + ": mean difference " + (double) total / want.length);
            cases++;
        }
        assertEquals(8, cases);
    }

    @Test
    void convertsRgbToGreyExactlyAsPil() throws IOException {
        JsonObject luma = fixture().getAsJsonObject("luma");
        Picture rgb = new Picture(bytes(luma.getAsJsonArray("pixels")), 3, luma.get("height").getAsInt(),
                luma.get("width").getAsInt());
        assertArrayEquals(bytes(luma.getAsJsonArray("expected")), rgb.withChannels(1).pixels());
        Picture back = rgb.withChannels(1).withChannels(3);
        assertEquals(back.pixel(0, 3, 4), back.pixel(2, 3, 4), "grey to RGB repeats the plane");
        assertSame(rgb, rgb.withChannels(3));
        assertThrows(IllegalArgumentException.class, () -> rgb.withChannels(2));
    }

    @Test
    void resizeAndCentreCropAsTorchvision() {
        Picture p = new Picture(DataFiles.pixels(1, 1, 30, 45), 1, 30, 45);
        Picture shorter = p.shorterSideTo(20);
        assertEquals(20, shorter.height());
        assertEquals(30, shorter.width());        // int(20 · 45 / 30)
        Picture fitted = p.fitted(20);
        assertEquals(20, fitted.width());
        assertEquals(shorter.pixel(0, 7, 5), fitted.pixel(0, 7, 0), "centre crop of the 30 columns starts at 5");
        Picture odd = new Picture(DataFiles.pixels(1, 1, 5, 6), 1, 5, 6).centreCrop(5);
        assertEquals(new Picture(DataFiles.pixels(1, 1, 5, 6), 1, 5, 6).pixel(0, 0, 0), odd.pixel(0, 0, 0),
                "offset round(0.5) = 0, as Python rounds half to even");
        assertSame(p, p.resized(30, 45), "no resize to its own size");
        Picture same = p.resized(0, 0, 30, 45, 30, 45);
        assertArrayEquals(p.pixels(), same.pixels(), "a resize to the same size is the identity");
    }

    private static JsonObject fixture() throws IOException {
        try (InputStream in = PictureTest.class.getResourceAsStream("/images/pil_resize.json")) {
            if (in == null) throw new IOException("missing /images/pil_resize.json (tools/pytorch/gen_resize_fixtures.py)");
            return JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    private static byte[] bytes(JsonArray a) {
        byte[] b = new byte[a.size()];
        for (int i = 0; i < b.length; i++) b[i] = (byte) a.get(i).getAsInt();
        return b;
    }
}
