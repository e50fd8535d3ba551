// "Try an answer": record in the browser where it is allowed (a secure page with a
// microphone and MediaRecorder); the recording becomes the form's `audio` file.

const form = document.querySelector("form.try-form");
const box = form?.querySelector("[data-recorder]");
const input = form?.querySelector('input[type="file"][name="audio"]');
const canRecord =
  window.isSecureContext && navigator.mediaDevices?.getUserMedia && window.MediaRecorder && window.DataTransfer;

if (form && box && input && canRecord) {
  const record = box.querySelector("[data-record]");
  const stop = box.querySelector("[data-stop]");
  const status = box.querySelector("[data-status]");
  box.hidden = false;
  form.querySelector("[data-no-recorder]").hidden = true;
  let recorder = null;

  record.addEventListener("click", async () => {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
    } catch (error) {
      status.textContent = `No microphone: ${error.message}`;
      return;
    }
    const parts = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = ({ data }) => data.size && parts.push(data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      const type = recorder.mimeType || "audio/webm";
      const extension = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      const file = new File(parts, `recording.${extension}`, { type });
      const files = new DataTransfer();
      files.items.add(file);
      input.files = files.files;
      status.textContent = `Recorded ${(file.size / 1024).toFixed(0)} KiB: press “Try it”.`;
      record.disabled = false;
      stop.disabled = true;
    };
    recorder.start();
    status.textContent = "Recording… speak, then press Stop.";
    record.disabled = true;
    stop.disabled = false;
  });
  stop.addEventListener("click", () => recorder?.state === "recording" && recorder.stop());
}
