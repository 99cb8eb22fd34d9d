package org.tfgancomp.demo

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.drawable.ColorDrawable
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.RadioButton
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.appcompat.widget.SwitchCompat
import org.tfgancomp.demo.model.InputKind
import org.tfgancomp.demo.model.ModelSpec
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicReference

/**
 * Sketch (or pick a photo) on the left, the generator's output on the right after every stroke, with the
 * per-frame latency and the delegate in use. Inference runs on one background thread; the UI thread only draws.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var drawing: DrawingView
    private lateinit var output: ImageView
    private lateinit var status: TextView
    private lateinit var timing: TextView
    private lateinit var gpuSwitch: SwitchCompat
    private lateinit var paletteRow: LinearLayout
    private lateinit var photoButton: Button

    /** The single inference thread: loads, runs and closes the [Generator] (a GPU delegate is thread-bound). */
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()

    /** Only touched on [worker]. */
    private var generator: Generator? = null

    /** The newest sketch not yet rendered; older ones are dropped when the model is slower than the strokes. */
    private val pending = AtomicReference<Bitmap?>(null)

    private var spec: ModelSpec? = null
    private var examples: List<String> = emptyList()
    private var nextExample = 0

    private val pickPhoto = registerForActivityResult(ActivityResultContracts.GetContent()) { uri: Uri? ->
        uri?.let { loadPhoto(it) }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        drawing = findViewById(R.id.drawing)
        output = findViewById(R.id.output)
        status = findViewById(R.id.status)
        timing = findViewById(R.id.timing)
        gpuSwitch = findViewById(R.id.gpu_switch)
        paletteRow = findViewById(R.id.palette)
        photoButton = findViewById(R.id.photo)

        findViewById<RadioButton>(R.id.pen).setOnClickListener { drawing.erasing = false }
        findViewById<RadioButton>(R.id.eraser).setOnClickListener { drawing.erasing = true }
        findViewById<Button>(R.id.clear).setOnClickListener { drawing.clear() }
        findViewById<Button>(R.id.example).setOnClickListener { showNextExample() }
        photoButton.setOnClickListener { pickPhoto.launch(PHOTO_MIME) }
        gpuSwitch.setOnCheckedChangeListener { _, checked -> loadModel(checked) }
        drawing.onStroke = { sketch -> requestFrame(sketch) }

        examples = assets.list(EXAMPLES_DIR)?.sorted()?.map { "$EXAMPLES_DIR/$it" } ?: emptyList()
        loadModel(gpuSwitch.isChecked)
    }

    override fun onDestroy() {
        worker.execute {
            generator?.close()
            generator = null
        }
        worker.shutdown()
        super.onDestroy()
    }

    /** (Re)loads the bundle on the inference thread, with the GPU delegate if [preferGpu] and supported. */
    private fun loadModel(preferGpu: Boolean) {
        status.setText(R.string.loading)
        gpuSwitch.isEnabled = false
        val threads = Runtime.getRuntime().availableProcessors().coerceAtMost(resources.getInteger(R.integer.max_cpu_threads))
        worker.execute {
            generator?.close()
            generator = null
            val loaded = try {
                Generator.open(applicationContext, preferGpu, threads)
            } catch (e: Exception) {
                val reason = e.message ?: e.javaClass.simpleName
                runOnUiThread { showLoadError(reason) }
                return@execute
            }
            generator = loaded
            runOnUiThread { showLoaded(loaded.spec, loaded.delegateName, loaded.gpuFallbackReason) }
        }
    }

    private fun showLoaded(loaded: ModelSpec, delegateName: String, fallback: String?) {
        gpuSwitch.isEnabled = true
        status.setTextColor(getColor(R.color.status_ok))
        val line = getString(R.string.model_status, loaded.summary(), delegateName)
        status.text = if (fallback == null) line else "$line\n$fallback"
        if (spec != loaded) {
            spec = loaded
            configureCanvas(loaded)
        } else {
            drawing.snapshot()?.let { requestFrame(it) }
        }
    }

    /** The message a user sees when the model cannot be used; drawing stays possible, rendering does not. */
    private fun showLoadError(reason: String) {
        gpuSwitch.isEnabled = true
        status.setTextColor(getColor(R.color.status_error))
        status.text = getString(R.string.model_load_failed, reason)
        timing.text = ""
        output.setImageDrawable(null)
    }

    /** Pen / paper colours, palette chips and stroke scale, all from the model's description. */
    private fun configureCanvas(loaded: ModelSpec) {
        val palette = loaded.palette
        paletteRow.removeAllViews()
        if (palette == null) {
            paletteRow.visibility = View.GONE
            photoButton.visibility = View.VISIBLE
            drawing.penColor = getColor(R.color.pen)
            drawing.paperColor = getColor(R.color.paper)
        } else {
            // A label map: the first label is the background, the others are "inks"; photos are not label maps.
            paletteRow.visibility = View.VISIBLE
            photoButton.visibility = View.GONE
            drawing.paperColor = palette.first()
            drawing.penColor = palette.last()
            palette.forEachIndexed { label, color ->
                paletteRow.addView(
                    View(this).apply {
                        background = ColorDrawable(color)
                        contentDescription = getString(R.string.label_chip, label)
                        setOnClickListener {
                            drawing.penColor = color
                            drawing.erasing = false
                            findViewById<RadioButton>(R.id.pen).isChecked = true
                        }
                    },
                    LinearLayout.LayoutParams(
                        resources.getDimensionPixelSize(R.dimen.chip_size),
                        resources.getDimensionPixelSize(R.dimen.chip_size),
                    ),
                )
            }
        }
        drawing.configure(loaded.input.width, loaded.input.height, loaded.inputKind != InputKind.LABELS)
    }

    private fun showNextExample() {
        if (examples.isEmpty()) {
            status.setText(R.string.no_examples)
            return
        }
        val name = examples[nextExample % examples.size]
        nextExample++
        assets.open(name).use { BitmapFactory.decodeStream(it) }?.let { drawing.load(it) }
    }

    private fun loadPhoto(uri: Uri) {
        val bitmap = contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it) }
        if (bitmap == null) {
            status.setText(R.string.photo_unreadable)
            return
        }
        drawing.load(bitmap)
    }

    /** Queues [sketch] for rendering; the inference thread always renders the newest queued sketch. */
    private fun requestFrame(sketch: Bitmap) {
        pending.set(sketch)
        worker.execute {
            val next = pending.getAndSet(null) ?: return@execute
            val model = generator ?: return@execute
            try {
                val frame = model.run(next)
                runOnUiThread {
                    output.setImageBitmap(frame.image)
                    timing.text = getString(R.string.frame_timing, frame.timing.format(), model.delegateName)
                }
            } catch (e: Exception) {
                val reason = e.message ?: e.javaClass.simpleName
                runOnUiThread { showLoadError(reason) }
            }
        }
    }

    private companion object {
        const val EXAMPLES_DIR = "examples"
        const val PHOTO_MIME = "image/*"
    }
}
