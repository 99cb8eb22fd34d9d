package org.tfgancomp.demo.model

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** model.json texts in the layout mobile_export/bundle.py writes (format_version 1). */
object Specs {
    fun tensor(shape: String, dtype: String = "float32", range: String = "[-1.0, 1.0]", channels: String = "RGB", extra: String = "") =
        """{"shape": $shape, "dtype": "$dtype", "layout": "NHWC", "range": $range, "channels": "$channels"$extra}"""

    fun json(
        input: String = tensor("[1, 48, 80, 3]"),
        output: String = tensor("[1, 48, 80, 3]"),
        precision: String = "float16",
        version: String = "1",
    ) = """{"format_version": $version, "precision": "$precision", "input": $input, "output": $output,
        "gpu_delegate": {"compatible": true, "ops": ["CONV_2D"]}, "model": {"macs": 1.5e8, "config": "16_16"},
        "parity": {"psnr": 80.0}}"""
}

class ModelSpecTest {
    @Test
    fun readsEverySizeAndTypeFromTheJson() {
        val spec = ModelSpec.parse(Specs.json())
        assertEquals(80, spec.input.width)
        assertEquals(48, spec.input.height)
        assertEquals(3, spec.input.channels)
        assertEquals(1, spec.input.batch)
        assertEquals(DType.FLOAT32, spec.input.dtype)
        assertEquals(ValueRange(-1.0, 1.0), spec.input.range)
        assertEquals(48 * 80 * 3 * 4, spec.input.byteCount)
        assertEquals(InputKind.RGB, spec.inputKind)
        assertEquals("float16", spec.precision)
        assertEquals(true, spec.gpuDelegateOps)
        assertEquals(1.5e8, spec.info["macs"])
        assertNull(spec.palette)
    }

    @Test
    fun readsUint8Io() {
        val t = Specs.tensor("[1, 32, 32, 3]", dtype = "uint8", range = "[0, 255]")
        val spec = ModelSpec.parse(Specs.json(input = t, output = t))
        assertEquals(DType.UINT8, spec.input.dtype)
        assertEquals(ValueRange(0.0, 255.0), spec.output.range)
        assertEquals(32 * 32 * 3, spec.output.byteCount)
    }

    @Test
    fun readsALabelMapWithPaletteAndInstanceEdge() {
        val input = Specs.tensor(
            "[1, 16, 32, 4]",
            channels = "one-hot labels (3) + instance edge",
            extra = """, "palette": [[0, 0, 0], [255, 0, 0], [0, 128, 255]]""",
        )
        val spec = ModelSpec.parse(Specs.json(input = input, output = Specs.tensor("[1, 16, 32, 3]")))
        assertEquals(InputKind.LABELS, spec.inputKind)
        assertEquals(3, spec.labelCount)
        assertTrue(spec.hasInstanceEdge)
        assertEquals(listOf(Argb.pack(0, 0, 0), Argb.pack(255, 0, 0), Argb.pack(0, 128, 255)), spec.palette)
        val noEdge = Specs.tensor("[1, 16, 32, 3]", extra = """, "palette": [[0, 0, 0], [9, 9, 9], [7, 7, 7]]""")
        val labels = ModelSpec.parse(Specs.json(input = noEdge))
        assertEquals(InputKind.LABELS, labels.inputKind)
        assertFalse(labels.hasInstanceEdge)
    }

    private fun rejects(text: String, vararg words: String) {
        val e = assertThrows(ModelSpecException::class.java) { ModelSpec.parse(text) }
        for (w in words) assertTrue("'${e.message}' should mention '$w'", e.message!!.contains(w))
    }

    @Test
    fun rejectsWhatTheAppCannotRunNamingTheField() {
        rejects("[1, 2]", "not a JSON object")
        rejects("{\"format_version\": 1", "invalid JSON")
        rejects(Specs.json(version = "2"), "format_version")
        rejects(Specs.json(input = Specs.tensor("[1, 48, 80, 3]", dtype = "int8")), "input.dtype", "int8")
        rejects(Specs.json(input = Specs.tensor("[2, 48, 80, 3]")), "input.shape", "batch")
        rejects(Specs.json(input = Specs.tensor("[1, -1, 80, 3]")), "input.shape", "dynamic")
        rejects(Specs.json(input = Specs.tensor("[1, 48, 80]")), "input.shape", "dimensions")
        rejects(Specs.json(input = Specs.tensor("[1, 48.5, 80, 3]")), "input.shape[1]", "integer")
        rejects(Specs.json(output = Specs.tensor("[1, 48, 80, 3]", range = "[1, -1]")), "output.range")
        rejects(Specs.json(output = Specs.tensor("[1, 48, 80, 3]", range = "[0]")), "output.range")
        rejects(Specs.json(output = Specs.tensor("[1, 48, 80, 5]")), "output.shape", "5 channels")
        rejects(Specs.json(input = Specs.tensor("[1, 48, 80, 36]", channels = "one-hot labels (35) + instance edge")), "palette")
        rejects(
            Specs.json(input = Specs.tensor("[1, 8, 8, 5]", extra = """, "palette": [[0, 0, 0], [1, 1, 1]]""")),
            "palette", "5 channels",
        )
        rejects(
            Specs.json(input = Specs.tensor("[1, 8, 8, 2]", extra = """, "palette": [[0, 0, 300], [1, 1, 1]]""")),
            "palette[0]",
        )
        rejects(
            Specs.json(input = Specs.tensor("[1, 8, 8, 2]", dtype = "uint8", range = "[0, 255]", extra = """, "palette": [[0, 0, 0], [1, 1, 1]]""")),
            "label-map", "float32",
        )
        rejects(Specs.json().replace("\"NHWC\"", "\"NCHW\""), "layout", "NCHW")
        rejects(Specs.json().replace("\"precision\": \"float16\",", ""), "precision")
    }
}
