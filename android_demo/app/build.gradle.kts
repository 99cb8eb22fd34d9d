plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.tfgancomp.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.tfgancomp.demo"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    // The model is memory-mapped straight from the APK (FileUtil.loadMappedFile -> AssetFileDescriptor), which only
    // works for an asset stored uncompressed.
    androidResources {
        noCompress += "tflite"
    }

    testOptions {
        unitTests.isReturnDefaultValues = false // the tested code is plain Kotlin; nothing Android may sneak in
    }
}

dependencies {
    // LiteRT (formerly TensorFlow Lite): the interpreter with XNNPACK, the GPU delegate (+ its API classes, e.g.
    // GpuDelegateFactory.Options, which litert-gpu alone does not pull in) and the support library (FileUtil).
    val litert = "1.4.0"
    implementation("com.google.ai.edge.litert:litert:$litert")
    implementation("com.google.ai.edge.litert:litert-gpu:$litert")
    implementation("com.google.ai.edge.litert:litert-gpu-api:$litert")
    implementation("com.google.ai.edge.litert:litert-support:$litert")

    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity-ktx:1.9.3")

    testImplementation("junit:junit:4.13.2")
}
