package org.tfgancomp.demo.model

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import javax.imageio.ImageIO

/**
 * The bundle in `src/main/assets` (Gradle runs unit tests in the module folder): the app can read its model.json,
 * and its example sketch converts to a tensor of the right size and range. Plain JVM: ImageIO reads the PNGs here,
 * where the app uses Android's BitmapFactory.
 */
class ShippedBundleTest {
    private val assets = File("src/main/assets")

    private fun argb(file: File): Triple<IntArray, Int, Int> {
        val image = ImageIO.read(file)
        val pixels = image.getRGB(0, 0, image.width, image.height, null, 0, image.width)
        return Triple(pixels, image.width, image.height)
    }

    @Test
    fun theShippedModelJsonIsOneTheAppRuns() {
        val spec = ModelSpec.parse(File(assets, "model.json").readText())
        assertEquals(InputKind.RGB, spec.inputKind)
        val (pixels, width, height) = argb(File(assets, "examples/sample_input.png"))
        assertEquals(spec.input.width, width)
        assertEquals(spec.input.height, height)

        val codec = TensorCodec(spec)
        val buffer = codec.newInputBuffer()
        codec.encode(pixels, buffer)
        val values = FloatArray(spec.input.elementCount) {
            when (spec.input.dtype) {
                DType.FLOAT32 -> buffer.getFloat(it * Float.SIZE_BYTES)
                DType.UINT8 -> (buffer.get(it).toInt() and Argb.CHANNEL_MAX).toFloat()
            }
        }
        // an edge sketch: black lines (the range's low end) on white paper (its high end)
        assertEquals(spec.input.range.low, values.minOrNull()!!.toDouble(), 1e-6)
        assertEquals(spec.input.range.high, values.maxOrNull()!!.toDouble(), 1e-6)
    }

    @Test
    fun theExpectedOutputSurvivesTheOutputConversion() {
        val spec = ModelSpec.parse(File(assets, "model.json").readText())
        val (pixels, width, height) = argb(File(assets, "sample_output.png"))
        assertEquals(spec.output.width, width)
        assertEquals(spec.output.height, height)
        // write the expected image as an output tensor (inverse of decode), then decode it as the app does
        val codec = TensorCodec(spec)
        val buffer = codec.newOutputBuffer()
        val range = spec.output.range
        for (i in pixels.indices) {
            for (k in 0 until spec.output.channels) {
                val v = range.low + Argb.component(pixels[i], k).toDouble() / Argb.CHANNEL_MAX * range.span
                val index = i * spec.output.channels + k
                when (spec.output.dtype) {
                    DType.FLOAT32 -> buffer.putFloat(index * Float.SIZE_BYTES, v.toFloat())
                    DType.UINT8 -> buffer.put(index, Math.round(v).toInt().toByte())
                }
            }
        }
        val decoded = IntArray(pixels.size)
        codec.decode(buffer, decoded)
        assertArrayEquals(pixels, decoded)
        assertTrue(decoded.toSet().size > 1)
    }
}
