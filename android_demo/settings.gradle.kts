pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google() // LiteRT (com.google.ai.edge.litert), AndroidX and the Android Gradle Plugin live here
        mavenCentral()
    }
}

rootProject.name = "tfgancomp-android-demo"
include(":app")
