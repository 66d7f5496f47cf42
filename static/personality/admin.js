// Persona admin: show each trait slider's value next to it while it moves.
document.addEventListener("input", (event) => {
  const slider = event.target;
  if (!(slider instanceof HTMLInputElement) || !slider.classList.contains("trait-slider")) return;
  const output = slider.parentElement && slider.parentElement.querySelector(".trait-slider-value");
  if (output) output.textContent = Number(slider.value).toFixed(2);
});
