/*
 * circle.cpp -- the C++ owners of cemdiff.hpp on the unit circle: train a
 * CEM model, sample it, and measure the samples with the library's metrics.
 *
 *   c++ -std=c++17 circle.cpp $(pkg-config --cflags --libs cemdiff)
 *   ./a.out [steps] [samples]        (defaults: 3000 steps, 2000 samples)
 */
#include <cemdiff.hpp>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv)
{
    long steps = argc > 1 ? std::atol(argv[1]) : 3000;
    std::size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2000;
    if (cemdiff::version_number() != CEM_VERSION_NUMBER) {
        std::fprintf(stderr, "header %d and library %u disagree\n", CEM_VERSION_NUMBER,
                     cemdiff::version_number());
        return 1;
    }
    try {
        cemdiff::Dataset circle(CEM_DATA_CIRCLE, 2);
        std::vector<float> data = circle.sample(2000, 1);

        cemdiff::Model model = cemdiff::Model::mlp(2, CEM_TARGET_CEM);
        model.set(CEM_MODEL_WIDTH, 64);
        model.set(CEM_MODEL_DEPTH, 3);
        cemdiff::Model trained;
        {
            cemdiff::Trainer trainer(model, data);
            trainer.set(CEM_TRAINER_BATCH, 256);
            trainer.set(CEM_TRAINER_LR, 2e-3);
            trainer.on_progress([](long step, double loss) {
                if (step % 500 == 0)
                    std::printf("step %5ld  loss %.4f\n", step, loss);
                return false;
            });
            double mean = trainer.run(steps);
            std::printf("trained %ld steps, mean loss %.4f\n", trainer.steps(), mean);
            trained = trainer.model(); /* its own reference: outlives the trainer */
        }

        cemdiff::Sampler sampler(trained);
        sampler.set(CEM_SAMPLER_STEPS, 100);
        sampler.set(CEM_SAMPLER_SEED, 2);
        std::vector<float> x = sampler.sample(n);

        cemdiff::DistanceStats d = cemdiff::metric_distance(circle, x);
        std::printf("distance to the circle: mean %.4f, p95 %.4f, max %.4f\n", d.mean, d.p95, d.max);
        std::printf("KS of the angles:       %.4f\n", cemdiff::metric_ks(circle, x));
        std::printf("sliced W2 to the data:  %.4f\n", cemdiff::metric_sliced_w2(data, x, 2, 128));
        std::printf("energy distance:        %.5f\n", cemdiff::metric_energy(data, x, 2));
    } catch (const cemdiff::error &e) {
        std::fprintf(stderr, "circle: %s\n", e.what());
        return 1;
    }
    return 0;
}
