//! Sharpness of images: the mean squared response of the discrete Laplacian
//! 4·x(i, j) − x(i±1, j) − x(i, j±1) over interior pixels, channels and images. Blur removes
//! high frequencies and lowers it; noise raises it, so it is read against the data's own value
//! (Zhao et al.'s Proposition 5: later steps of a Sequential VAE should be sharper).

/// The statistic of `images`, side × side planes (every channel of every image).
pub fn laplacian_energy(images: &[f32], side: usize) -> f64 {
    if side < 3 || images.is_empty() {
        return 0.0;
    }
    let plane = side * side;
    let (mut sum, mut count) = (0.0f64, 0usize);
    for p in images.chunks_exact(plane) {
        let at = |i: usize, j: usize| p[i * side + j] as f64;
        for i in 1..side - 1 {
            for j in 1..side - 1 {
                let l = 4.0 * at(i, j) - at(i - 1, j) - at(i + 1, j) - at(i, j - 1) - at(i, j + 1);
                sum += l * l;
                count += 1;
            }
        }
    }
    sum / count as f64
}
