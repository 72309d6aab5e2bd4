#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/status.h"

namespace wedlm {
namespace {

TEST(DType, Bf16KnownValuesAndRoundToNearestEven) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0)
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3 * 2^-8 is between 1.0078125 (odd) and 1.015625 (even): goes up to even
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(DType, EveryBf16RoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_bf16(f), h) << h;
  }
}

TEST(DType, EveryF16RoundTripsAndMatchesLdexp) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to +inf
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << h;
  }
}

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16})
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_FALSE(dtype_from_name("I8").has_value());
}

TEST(Status, ResultCarriesValueOrError) {
  Result<int> ok = 3;
  EXPECT_TRUE(ok.is_ok());
  EXPECT_EQ(ok.value(), 3);
  Result<int> bad = Status(ErrorKind::kNotFound, "x.json: cannot open");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().to_string(), "not found: x.json: cannot open");
  EXPECT_DEATH((void)bad.value(), "cannot open");
}

}  // namespace
}  // namespace wedlm
