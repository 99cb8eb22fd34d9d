package org.tfgancomp.demo

import android.content.Context
import android.graphics.Bitmap
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.support.common.FileUtil
import org.tfgancomp.demo.model.DType
import org.tfgancomp.demo.model.FrameTiming
import org.tfgancomp.demo.model.InputKind
import org.tfgancomp.demo.model.ModelSpec
import org.tfgancomp.demo.model.TensorSpec
import org.tfgancomp.demo.model.TensorCodec
import java.io.Closeable

/** One rendered frame: the generator's output and where the time went. */
class Frame(val image: Bitmap, val timing: FrameTiming)

/**
 * The bundle's generator on LiteRT: `model.tflite` memory-mapped from assets, described by `model.json`.
 *
 * Not thread-safe, and a GPU delegate must be used and closed on the thread that created it: the app creates,
 * runs and closes a [Generator] only on its single inference thread.
 */
class Generator private constructor(
    val spec: ModelSpec,
    private val interpreter: Interpreter,
    private val gpuDelegate: GpuDelegate?,
    /** What runs the model, for the screen: "GPU delegate" or "CPU (XNNPACK, N threads)". */
    val delegateName: String,
    /** Why the GPU was asked for and not used (device not on the compatibility list, delegate failed), or null. */
    val gpuFallbackReason: String?,
) : Closeable {
    private val codec = TensorCodec(spec)
    private val inputBuffer = codec.newInputBuffer()
    private val outputBuffer = codec.newOutputBuffer()
    private val inputPixels = IntArray(spec.input.width * spec.input.height)
    private val outputPixels = IntArray(spec.output.width * spec.output.height)

    /** Scales [sketch] to the model's input size, runs the model, and returns its output as a bitmap. */
    fun run(sketch: Bitmap): Frame {
        val width = spec.input.width
        val height = spec.input.height
        val start = System.nanoTime()
        // Label maps are scaled without filtering so that every pixel keeps an exact palette colour.
        val scaled = if (sketch.width == width && sketch.height == height) {
            sketch
        } else {
            Bitmap.createScaledBitmap(sketch, width, height, spec.inputKind != InputKind.LABELS)
        }
        scaled.getPixels(inputPixels, 0, width, 0, 0, width, height)
        codec.encode(inputPixels, inputBuffer)
        inputBuffer.rewind()
        val encoded = System.nanoTime()
        outputBuffer.rewind()
        interpreter.run(inputBuffer, outputBuffer)
        val inferred = System.nanoTime()
        codec.decode(outputBuffer, outputPixels)
        val image = Bitmap.createBitmap(outputPixels, spec.output.width, spec.output.height, Bitmap.Config.ARGB_8888)
        val done = System.nanoTime()
        return Frame(image, FrameTiming.ofNanos(encoded - start, inferred - encoded, done - inferred))
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    companion object {
        const val MODEL_FILE = "model.tflite"
        const val MODEL_JSON = "model.json"

        /** Reads and validates the bundle's `model.json` from assets. */
        fun readSpec(context: Context): ModelSpec =
            ModelSpec.parse(context.assets.open(MODEL_JSON).bufferedReader().use { it.readText() })

        /**
         * Loads the bundle from assets.
         *
         * @param preferGpu Use the GPU delegate when the device is on LiteRT's GPU compatibility list (and the
         *     delegate accepts the model); XNNPACK on the CPU otherwise.
         * @param threads CPU threads for XNNPACK.
         * @throws Exception anything that keeps the model from loading (missing asset, invalid model.json, a
         *     model whose tensors do not match model.json); the caller shows it on screen.
         */
        fun open(context: Context, preferGpu: Boolean, threads: Int): Generator {
            val spec = readSpec(context)
            // Memory-mapped: the asset is stored uncompressed (noCompress "tflite" in app/build.gradle.kts).
            val model = FileUtil.loadMappedFile(context, MODEL_FILE)
            var fallback: String? = null
            if (preferGpu) {
                val gpuOptions = CompatibilityList().use { list ->
                    if (list.isDelegateSupportedOnThisDevice) list.bestOptionsForThisDevice else null
                }
                if (gpuOptions == null) {
                    fallback = context.getString(R.string.gpu_not_supported)
                } else {
                    val delegate = GpuDelegate(gpuOptions)
                    try {
                        val interpreter = Interpreter(model, Interpreter.Options().addDelegate(delegate))
                        return checked(spec, interpreter, delegate, context.getString(R.string.delegate_gpu), null)
                    } catch (e: Exception) {
                        delegate.close()
                        fallback = context.getString(R.string.gpu_failed, e.message ?: e.javaClass.simpleName)
                    }
                }
            }
            val options = Interpreter.Options().setUseXNNPACK(true).setNumThreads(threads)
            val interpreter = Interpreter(model, options)
            return checked(spec, interpreter, null, context.getString(R.string.delegate_cpu, threads), fallback)
        }

        /** Refuses a `model.tflite` whose tensors are not what `model.json` beside it says. */
        private fun checked(
            spec: ModelSpec,
            interpreter: Interpreter,
            delegate: GpuDelegate?,
            name: String,
            fallback: String?,
        ): Generator {
            try {
                check(interpreter.inputTensorCount == 1 && interpreter.outputTensorCount == 1) {
                    "model.tflite has ${interpreter.inputTensorCount} inputs and ${interpreter.outputTensorCount} " +
                        "outputs; a generator has one of each"
                }
                same("input", interpreter.getInputTensor(0).shape(), interpreter.getInputTensor(0).dataType(), spec.input)
                same("output", interpreter.getOutputTensor(0).shape(), interpreter.getOutputTensor(0).dataType(), spec.output)
            } catch (e: Exception) {
                interpreter.close()
                delegate?.close()
                throw e
            }
            return Generator(spec, interpreter, delegate, name, fallback)
        }

        private fun same(what: String, shape: IntArray, type: DataType, tensor: TensorSpec) {
            val expected = when (tensor.dtype) {
                DType.FLOAT32 -> DataType.FLOAT32
                DType.UINT8 -> DataType.UINT8
            }
            check(shape.toList() == tensor.shape && type == expected) {
                "model.tflite's $what is ${shape.toList()} $type but model.json says ${tensor.shape} ${tensor.dtype.jsonName}"
            }
        }
    }
}
