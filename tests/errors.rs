//! Errors name the offending argument: which slice has the wrong length, which row's target
//! is out of range; their messages say the same.

use softmax::{CrossEntropyOptions, Error, Softmax};

fn slice(argument: &'static str, expected: usize, actual: usize) -> Result<(), Error> {
    Err(Error::SliceLength {
        argument,
        expected,
        actual,
    })
}

#[test]
fn backward_passes_name_the_short_slice() {
    let sm = Softmax::new();
    let (y, dy) = ([0.25f32; 4], [1.0f32; 4]);
    let mut dx = [0.0f32; 3];
    assert_eq!(sm.softmax_backward(&y, &dy, &mut dx), slice("dx", 4, 3));
    assert_eq!(
        sm.log_softmax_backward(&y, &dy[..2], &mut dx),
        slice("dy", 4, 2)
    );
    assert_eq!(
        sm.softmax_backward_in_place(&y, &mut dx),
        slice("dy_dx", 4, 3)
    );
    // Batches: 2 rows of 4 with stride 4 need 8 elements of each buffer.
    let (y8, dy8, mut dx8) = ([0.25f32; 8], [1.0f32; 8], [0.0f32; 8]);
    assert_eq!(
        sm.softmax_backward_rows(&y8[..7], 4, &dy8, 4, &mut dx8, 4, 2, 4),
        slice("y", 8, 7)
    );
    assert_eq!(
        sm.softmax_backward_rows(&y8, 4, &dy8[..6], 4, &mut dx8, 4, 2, 4),
        slice("dy", 8, 6)
    );
    assert_eq!(
        sm.log_softmax_backward_rows(&y8, 4, &dy8, 4, &mut dx8[..5], 4, 2, 4),
        slice("dx", 8, 5)
    );
}

#[test]
fn cross_entropy_names_the_slice_and_the_row() {
    let sm = Softmax::new();
    let logits = [0.5f32, 1.0, -1.0, 2.0, 0.0, 1.0];
    let mut losses = [0.0f32; 2];
    let opts = CrossEntropyOptions::default();
    let mut grad = [0.0f32; 5];
    assert_eq!(
        sm.cross_entropy_with_grad(&logits[..3], 0, &mut grad[..2])
            .map(drop),
        slice("dlogits", 3, 2)
    );
    assert_eq!(
        sm.cross_entropy_rows(&logits, 3, 2, 3, &[0], opts, &mut losses, None),
        slice("targets", 2, 1)
    );
    assert_eq!(
        sm.cross_entropy_rows(&logits, 3, 2, 3, &[0, 1], opts, &mut losses[..1], None),
        slice("losses", 2, 1)
    );
    assert_eq!(
        sm.cross_entropy_rows(&logits[..5], 3, 2, 3, &[0, 1], opts, &mut losses, None),
        slice("logits", 6, 5)
    );
    assert_eq!(
        sm.cross_entropy_rows(
            &logits,
            3,
            2,
            3,
            &[0, 1],
            opts,
            &mut losses,
            Some((&mut grad, 3))
        ),
        slice("dlogits", 6, 5)
    );
    // Row 1's target 3 is not a class of a row of 3 (row 0's -100 is ignored).
    let bad = Error::TargetOutOfRange {
        row: 1,
        target: 3,
        classes: 3,
    };
    assert_eq!(
        sm.cross_entropy_rows(&logits, 3, 2, 3, &[-100, 3], opts, &mut losses, None),
        Err(bad)
    );
    assert_eq!(
        sm.cross_entropy_rows(&logits, 3, 2, 3, &[2, -7], opts, &mut losses, None),
        Err(Error::TargetOutOfRange {
            row: 1,
            target: -7,
            classes: 3
        })
    );
    assert_eq!(
        sm.cross_entropy(&logits[..3], 5),
        Err(Error::TargetOutOfRange {
            row: 0,
            target: 5,
            classes: 3
        })
    );
    // Nothing was written.
    assert_eq!(losses, [0.0; 2]);
    assert_eq!(grad, [0.0; 5]);
    // The messages name the argument.
    assert_eq!(
        Error::SliceLength {
            argument: "dx",
            expected: 4,
            actual: 3
        }
        .to_string(),
        "slice `dx` has length 3, the operation needs 4"
    );
    assert_eq!(
        bad.to_string(),
        "the target 3 of row 1 is not a class of the row (0..3)"
    );
}
