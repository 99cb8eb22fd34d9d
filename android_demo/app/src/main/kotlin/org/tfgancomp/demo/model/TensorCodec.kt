package org.tfgancomp.demo.model

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.roundToInt

/**
 * Pixels ↔ tensors for one model, in plain Kotlin (no Android types: pixels are packed ARGB `Int`s, tensors are
 * `java.nio.ByteBuffer`s laid out as `model.json` says).
 *
 * Every number used here — sizes, channel counts, value ranges, element type, palette — comes from [spec]. The
 * only constants are those of 8-bit pixels ([Argb.CHANNEL_MAX]) and of one-hot codes (0 and 1).
 */
class TensorCodec(val spec: ModelSpec) {
    private val input = spec.input
    private val output = spec.output

    /** A direct buffer in native byte order, the size of the model's input tensor. */
    fun newInputBuffer(): ByteBuffer = ByteBuffer.allocateDirect(input.byteCount).order(ByteOrder.nativeOrder())

    /** A direct buffer in native byte order, the size of the model's output tensor. */
    fun newOutputBuffer(): ByteBuffer = ByteBuffer.allocateDirect(output.byteCount).order(ByteOrder.nativeOrder())

    /**
     * Writes a sketch into [dst] as the model's input tensor.
     *
     * @param pixels ARGB pixels, row-major, exactly `input.width × input.height` of them (the caller scales the
     *     canvas to the model's input size first).
     */
    fun encode(pixels: IntArray, dst: ByteBuffer) {
        require(pixels.size == input.width * input.height) {
            "sketch has ${pixels.size} pixels; the model's input is ${input.width}×${input.height}"
        }
        require(dst.capacity() == input.byteCount) {
            "input buffer holds ${dst.capacity()} bytes; the model's input needs ${input.byteCount}"
        }
        when (spec.inputKind) {
            InputKind.RGB -> pixels.forEachIndexed { i, argb ->
                val base = i * input.channels
                for (k in 0 until input.channels) put(dst, base + k, toValue(Argb.component(argb, k).toDouble()))
            }
            InputKind.GRAY -> pixels.forEachIndexed { i, argb -> put(dst, i, toValue(Argb.luma(argb))) }
            InputKind.LABELS -> encodeLabels(labels(pixels), dst)
        }
    }

    /** The label of each pixel: the index of the nearest palette colour (exact for pixels drawn with it). */
    fun labels(pixels: IntArray): IntArray {
        val palette = spec.palette ?: throw IllegalStateException("the model's input is not a label map")
        val cache = HashMap<Int, Int>()
        return IntArray(pixels.size) { i ->
            cache.getOrPut(pixels[i]) { palette.indices.minByOrNull { Argb.distance2(palette[it], pixels[i]) }!! }
        }
    }

    private fun encodeLabels(labels: IntArray, dst: ByteBuffer) {
        val width = input.width
        val height = input.height
        val channels = input.channels
        for (i in 0 until input.elementCount) putRaw(dst, i, OFF)
        for (y in 0 until height) {
            for (x in 0 until width) {
                val i = y * width + x
                val label = labels[i]
                putRaw(dst, i * channels + label, ON)
                if (spec.hasInstanceEdge) {
                    // GauGAN's instance edge: 1 where a 4-neighbour belongs to another region. Without an
                    // instance map, each label region is one instance.
                    val edge = (x > 0 && labels[i - 1] != label) || (x + 1 < width && labels[i + 1] != label) ||
                        (y > 0 && labels[i - width] != label) || (y + 1 < height && labels[i + width] != label)
                    putRaw(dst, i * channels + spec.labelCount, if (edge) ON else OFF)
                }
            }
        }
    }

    /**
     * Reads the model's output tensor from [src] into ARGB pixels (`output.width × output.height`, row-major);
     * values are mapped from the output's range to 0..255 and clamped.
     */
    fun decode(src: ByteBuffer, pixels: IntArray) {
        require(pixels.size == output.width * output.height) {
            "pixel array holds ${pixels.size}; the model's output is ${output.width}×${output.height}"
        }
        require(src.capacity() == output.byteCount) {
            "output buffer holds ${src.capacity()} bytes; the model's output has ${output.byteCount}"
        }
        val channels = output.channels
        for (i in pixels.indices) {
            val base = i * channels
            var argb = Argb.OPAQUE_BLACK
            for (k in 0 until Argb.COMPONENTS) {
                // A one-channel output is gray: every component reads channel 0.
                argb = Argb.withComponent(argb, k, toByte(get(src, base + if (channels == 1) 0 else k)))
            }
            pixels[i] = argb
        }
    }

    /** 0..255 pixel intensity → the input's value range. */
    private fun toValue(intensity: Double): Double = input.range.low + intensity / Argb.CHANNEL_MAX * input.range.span

    /** An output value → 0..255 pixel intensity (rounded, clamped). */
    private fun toByte(value: Double): Int =
        ((value - output.range.low) / output.range.span * Argb.CHANNEL_MAX).roundToInt().coerceIn(0, Argb.CHANNEL_MAX)

    /** Stores an input-range value as the input's dtype (uint8: rounded and clamped to 0..255). */
    private fun put(dst: ByteBuffer, index: Int, value: Double) = when (input.dtype) {
        DType.FLOAT32 -> dst.putFloat(index * Float.SIZE_BYTES, value.toFloat())
        DType.UINT8 -> dst.put(index, value.roundToInt().coerceIn(0, Argb.CHANNEL_MAX).toByte())
    }

    /** Stores a raw tensor value (a one-hot code: label inputs are float32, checked by [ModelSpec]). */
    private fun putRaw(dst: ByteBuffer, index: Int, value: Float) {
        dst.putFloat(index * Float.SIZE_BYTES, value)
    }

    private fun get(src: ByteBuffer, index: Int): Double = when (output.dtype) {
        DType.FLOAT32 -> src.getFloat(index * Float.SIZE_BYTES).toDouble()
        DType.UINT8 -> (src.get(index).toInt() and Argb.CHANNEL_MAX).toDouble()
    }

    private companion object {
        // One-hot codes: a label channel is 1 where the pixel has that label, 0 elsewhere.
        const val ON = 1f
        const val OFF = 0f
    }
}
