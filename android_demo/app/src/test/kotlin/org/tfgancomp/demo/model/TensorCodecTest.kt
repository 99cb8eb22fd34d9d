package org.tfgancomp.demo.model

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import java.nio.ByteBuffer

class TensorCodecTest {
    private val white = Argb.pack(255, 255, 255)
    private val black = Argb.pack(0, 0, 0)
    private val orange = Argb.pack(240, 128, 16)

    private fun rgbSpec(dtype: String = "float32", range: String = "[-1.0, 1.0]", height: Int = 2, width: Int = 3) =
        ModelSpec.parse(
            Specs.json(
                input = Specs.tensor("[1, $height, $width, 3]", dtype = dtype, range = range),
                output = Specs.tensor("[1, $height, $width, 3]", dtype = dtype, range = range),
            ),
        )

    private fun floats(buffer: ByteBuffer): FloatArray =
        FloatArray(buffer.capacity() / Float.SIZE_BYTES) { buffer.getFloat(it * Float.SIZE_BYTES) }

    @Test
    fun floatInputMapsPixelsLinearlyOntoTheRange() {
        val codec = TensorCodec(rgbSpec())
        val buffer = codec.newInputBuffer()
        codec.encode(intArrayOf(white, black, orange, white, white, black), buffer)
        val v = floats(buffer)
        assertEquals(2 * 3 * 3, v.size)
        assertArrayEquals(floatArrayOf(1f, 1f, 1f, -1f, -1f, -1f), v.copyOfRange(0, 6), 1e-6f)
        // pixel 2 (orange): NHWC, channel order R, G, B; x / 255 * 2 - 1
        assertArrayEquals(floatArrayOf(240 / 127.5f - 1, 128 / 127.5f - 1, 16 / 127.5f - 1), v.copyOfRange(6, 9), 1e-6f)
    }

    @Test
    fun aDifferentRangeFromTheJsonChangesTheValues() {
        val codec = TensorCodec(rgbSpec(range = "[0.0, 1.0]"))
        val buffer = codec.newInputBuffer()
        codec.encode(IntArray(6) { orange }, buffer)
        assertEquals(240 / 255f, floats(buffer)[0], 1e-6f)
    }

    @Test
    fun uint8InputAndOutputAreRawPixels() {
        val codec = TensorCodec(rgbSpec(dtype = "uint8", range = "[0, 255]"))
        val input = codec.newInputBuffer()
        val pixels = intArrayOf(orange, white, black, orange, orange, white)
        codec.encode(pixels, input)
        assertEquals(2 * 3 * 3, input.capacity())
        assertEquals(240, input.get(0).toInt() and 255)
        assertEquals(16, input.get(2).toInt() and 255)
        val out = IntArray(pixels.size)
        codec.decode(input, out) // the output tensor has the same layout here: decode(encode(p)) == p
        assertArrayEquals(pixels, out)
    }

    @Test
    fun floatRoundTripIsExactAndOutputIsClamped() {
        val codec = TensorCodec(rgbSpec())
        val pixels = intArrayOf(orange, white, black, Argb.pack(1, 2, 3), Argb.pack(254, 127, 128), orange)
        val buffer = codec.newInputBuffer()
        codec.encode(pixels, buffer)
        val out = IntArray(pixels.size)
        codec.decode(buffer, out)
        assertArrayEquals(pixels, out)
        for (i in 0 until buffer.capacity() / Float.SIZE_BYTES) buffer.putFloat(i * Float.SIZE_BYTES, if (i % 2 == 0) 7f else -7f)
        codec.decode(buffer, out)
        assertEquals(Argb.pack(255, 0, 255), out[0])
    }

    @Test
    fun grayOutputIsReplicatedToRgb() {
        val spec = ModelSpec.parse(Specs.json(output = Specs.tensor("[1, 2, 3, 1]", channels = "gray"), input = Specs.tensor("[1, 2, 3, 3]")))
        val codec = TensorCodec(spec)
        val buffer = codec.newOutputBuffer()
        assertEquals(6 * Float.SIZE_BYTES, buffer.capacity())
        buffer.putFloat(0, 0f)
        val out = IntArray(6)
        codec.decode(buffer, out)
        assertEquals(Argb.pack(128, 128, 128), out[0])
    }

    @Test
    fun labelMapsBecomeOneHotWithInstanceEdges() {
        val red = Argb.pack(255, 0, 0)
        val input = Specs.tensor("[1, 2, 3, 3]", channels = "one-hot labels (2) + instance edge", extra = """, "palette": [[0, 0, 0], [255, 0, 0]]""")
        val codec = TensorCodec(ModelSpec.parse(Specs.json(input = input, output = Specs.tensor("[1, 2, 3, 3]"))))
        // row 0: black black red; row 1: black black black (a near-red pixel maps to the nearest palette colour)
        val pixels = intArrayOf(black, black, Argb.pack(250, 10, 5), black, black, black)
        assertArrayEquals(intArrayOf(0, 0, 1, 0, 0, 0), codec.labels(pixels))
        val buffer = codec.newInputBuffer()
        codec.encode(pixels, buffer)
        val v = floats(buffer)
        val oneHot = (0 until 6).map { i -> listOf(v[i * 3], v[i * 3 + 1]) }
        assertEquals(listOf(1f, 0f), oneHot[0])
        assertEquals(listOf(0f, 1f), oneHot[2])
        val edges = (0 until 6).map { i -> v[i * 3 + 2] }
        // the red pixel (0, 2) and its 4-neighbours (0, 1) and (1, 2) are on a boundary
        assertEquals(listOf(0f, 1f, 1f, 0f, 0f, 1f), edges)
    }

    @Test
    fun refusesSketchesAndBuffersOfTheWrongSize() {
        val codec = TensorCodec(rgbSpec())
        assertThrows(IllegalArgumentException::class.java) { codec.encode(IntArray(5), codec.newInputBuffer()) }
        assertThrows(IllegalArgumentException::class.java) { codec.encode(IntArray(6), ByteBuffer.allocate(3)) }
        assertThrows(IllegalArgumentException::class.java) { codec.decode(codec.newOutputBuffer(), IntArray(7)) }
    }
}
