# node-gyp entry point. `node-gyp rebuild` (which npm, electron-rebuild and
# @electron/rebuild call for native modules) delegates to the same CMake build
# as `npm run build:native`: clone + patch llama.cpp, then cmake-js, producing
# build/Release/llama_reward.node. The addon is N-API only, so one build runs
# on every Node.js >= 20 and Electron version of the same platform.
{
  "targets": [
    {
      "target_name": "llama_reward",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/llama_reward.node"],
          "action": ["node", "-e", "import('./dist/tools/build/build-native.js')"]
        }
      ]
    }
  ]
}
