package org.tfgancomp.demo.model

/** A `model.json` that this app cannot use; the message names the field and what is wrong. */
class ModelSpecException(message: String) : IllegalArgumentException(message)

/** Element type of a model tensor, as `model.json` names it. */
enum class DType(val jsonName: String, val bytes: Int) {
    FLOAT32("float32", Float.SIZE_BYTES),
    UINT8("uint8", Byte.SIZE_BYTES),
    ;

    companion object {
        fun of(name: String, field: String): DType =
            values().firstOrNull { it.jsonName == name }
                ?: throw ModelSpecException(
                    "$field: dtype '$name' is not supported (supported: ${values().joinToString { it.jsonName }})",
                )
    }
}

/** The values a tensor's elements take: [low] is black / "off", [high] is white / full intensity. */
data class ValueRange(val low: Double, val high: Double) {
    val span: Double get() = high - low
}

/**
 * One model tensor as `model.json` describes it (`shape`, `dtype`, `layout`, `range`, `channels`).
 *
 * Every size is read from [shape] through [layout]; nothing here knows what a model's size is.
 */
data class TensorSpec(
    val shape: List<Int>,
    val dtype: DType,
    val layout: String,
    val range: ValueRange,
    val channelsMeaning: String,
) {
    private fun dim(axis: Char): Int = shape[layout.indexOf(axis)]

    val batch: Int get() = dim('N')
    val height: Int get() = dim('H')
    val width: Int get() = dim('W')
    val channels: Int get() = dim('C')
    val elementCount: Int get() = shape.fold(1) { acc, d -> acc * d }
    val byteCount: Int get() = elementCount * dtype.bytes
}

/** What the model's input channels are, and so how a sketch becomes a tensor. */
enum class InputKind { RGB, GRAY, LABELS }

/**
 * Everything the app knows about its model, all of it from the export bundle's `model.json`.
 *
 * @property palette One opaque ARGB colour per label channel (GauGAN-style label-map inputs), in channel order;
 *     read from `input.palette` (or a top-level `palette`), `null` when the bundle has none.
 * @property gpuDelegateOps Whether the exporter found every op on the GPU delegate's list (`gpu_delegate.compatible`),
 *     `null` when not recorded.
 * @property info The bundle's free-form `model` object (MACs, params, configuration, quality...).
 */
data class ModelSpec(
    val formatVersion: Int,
    val precision: String,
    val input: TensorSpec,
    val output: TensorSpec,
    val palette: List<Int>?,
    val gpuDelegateOps: Boolean?,
    val info: Map<String, Any?>,
) {
    val inputKind: InputKind
        get() = when {
            palette != null -> InputKind.LABELS
            input.channels == Argb.COMPONENTS -> InputKind.RGB
            else -> InputKind.GRAY
        }

    /** Label classes of a label-map input (0 for image inputs). */
    val labelCount: Int get() = palette?.size ?: 0

    /** Whether a label-map input carries GauGAN's instance-edge channel after the one-hot labels. */
    val hasInstanceEdge: Boolean get() = palette != null && input.channels == palette.size + 1

    /** One line for the screen: size, I/O type, precision. */
    fun summary(): String =
        "${input.width}×${input.height} ${inputKind.name.lowercase()} → ${output.width}×${output.height}, " +
            "${input.dtype.jsonName} I/O, $precision"

    companion object {
        /** The `model.json` layout version this app reads. */
        const val SUPPORTED_FORMAT = 1
        private const val NHWC = "NHWC"

        /** Parses and validates the text of a bundle's `model.json`. */
        fun parse(text: String): ModelSpec {
            val root = try {
                Json.parse(text)
            } catch (e: JsonException) {
                throw ModelSpecException("model.json: ${e.message}")
            }
            return fromJson(root as? Map<*, *> ?: throw ModelSpecException("model.json: not a JSON object"))
        }

        fun fromJson(root: Map<*, *>): ModelSpec {
            val version = integer(root["format_version"], "format_version")
            if (version != SUPPORTED_FORMAT) {
                throw ModelSpecException("format_version: $version is not supported (this app reads $SUPPORTED_FORMAT)")
            }
            val input = tensor(root["input"], "input")
            val output = tensor(root["output"], "output")
            if (output.channels != Argb.COMPONENTS && output.channels != GRAY_CHANNELS) {
                throw ModelSpecException("output.shape: ${output.channels} channels; an image needs RGB or gray")
            }
            val inputMap = root["input"] as Map<*, *>
            val palette = (inputMap["palette"] ?: root["palette"])?.let { palette(it) }
            if (palette != null && input.channels != palette.size && input.channels != palette.size + 1) {
                throw ModelSpecException(
                    "palette: ${palette.size} colours do not fit an input of ${input.channels} channels " +
                        "(one per label, plus at most one instance-edge channel)",
                )
            }
            if (palette != null && input.dtype != DType.FLOAT32) {
                throw ModelSpecException("input.dtype: a label-map input must be float32 (one-hot), not ${input.dtype.jsonName}")
            }
            if (palette == null && input.channels != Argb.COMPONENTS && input.channels != GRAY_CHANNELS) {
                throw ModelSpecException(
                    "input: ${input.channels} channels ('${input.channelsMeaning}') and no palette in model.json; " +
                        "a label-map model needs input.palette, one [r, g, b] per label",
                )
            }
            val gpu = (root["gpu_delegate"] as? Map<*, *>)?.get("compatible") as? Boolean
            @Suppress("UNCHECKED_CAST")
            val info = (root["model"] as? Map<String, Any?>) ?: emptyMap()
            val precision = root["precision"] as? String ?: throw ModelSpecException("precision: missing or not a string")
            return ModelSpec(version, precision, input, output, palette, gpu, info)
        }

        private const val GRAY_CHANNELS = 1

        private fun integer(value: Any?, field: String): Int {
            val d = value as? Double ?: throw ModelSpecException("$field: expected a number, got ${describe(value)}")
            if (d != Math.rint(d) || d < Int.MIN_VALUE || d > Int.MAX_VALUE) {
                throw ModelSpecException("$field: expected an integer, got $d")
            }
            return d.toInt()
        }

        private fun number(value: Any?, field: String): Double =
            value as? Double ?: throw ModelSpecException("$field: expected a number, got ${describe(value)}")

        private fun describe(value: Any?): String = when (value) {
            null -> "nothing"
            is String -> "the string '$value'"
            else -> value.toString()
        }

        private fun tensor(value: Any?, field: String): TensorSpec {
            val map = value as? Map<*, *> ?: throw ModelSpecException("$field: missing or not an object")
            val shapeList = map["shape"] as? List<*> ?: throw ModelSpecException("$field.shape: missing or not a list")
            val shape = shapeList.mapIndexed { i, d -> integer(d, "$field.shape[$i]") }
            val layout = map["layout"] as? String ?: throw ModelSpecException("$field.layout: missing")
            if (layout != NHWC) throw ModelSpecException("$field.layout: '$layout' is not supported (only $NHWC)")
            if (shape.size != layout.length) {
                throw ModelSpecException("$field.shape: $shape has ${shape.size} dimensions, layout $layout has ${layout.length}")
            }
            if (shape.any { it <= 0 }) throw ModelSpecException("$field.shape: $shape has a dynamic or empty dimension")
            val dtype = DType.of(map["dtype"] as? String ?: throw ModelSpecException("$field.dtype: missing"), "$field.dtype")
            val rangeList = map["range"] as? List<*> ?: throw ModelSpecException("$field.range: missing or not a list")
            if (rangeList.size != RANGE_ENDS) throw ModelSpecException("$field.range: expected [low, high], got $rangeList")
            val (low, high) = rangeList
            val range = ValueRange(number(low, "$field.range[0]"), number(high, "$field.range[1]"))
            if (!(range.high > range.low)) throw ModelSpecException("$field.range: high ${range.high} ≤ low ${range.low}")
            val channels = map["channels"] as? String ?: ""
            val spec = TensorSpec(shape, dtype, layout, range, channels)
            if (spec.batch != 1) throw ModelSpecException("$field.shape: batch ${spec.batch}; the app runs one image (batch 1)")
            return spec
        }

        private fun palette(value: Any): List<Int> {
            val list = value as? List<*> ?: throw ModelSpecException("palette: expected a list of [r, g, b]")
            if (list.isEmpty()) throw ModelSpecException("palette: empty")
            return list.mapIndexed { i, entry ->
                val rgb = entry as? List<*> ?: throw ModelSpecException("palette[$i]: expected [r, g, b]")
                if (rgb.size != Argb.COMPONENTS) throw ModelSpecException("palette[$i]: expected [r, g, b], got $rgb")
                val c = rgb.mapIndexed { k, v -> integer(v, "palette[$i][$k]") }
                if (c.any { it < 0 || it > Argb.CHANNEL_MAX }) {
                    throw ModelSpecException("palette[$i]: $c is outside 0..${Argb.CHANNEL_MAX}")
                }
                val (red, green, blue) = c
                Argb.pack(red, green, blue)
            }
        }

        // A range is a [low, high] pair: the JSON's structure, not a model property.
        private const val RANGE_ENDS = 2
    }
}
